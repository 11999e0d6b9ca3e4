/**
 * The day the GDPR applies from (Art. 99(2)). Its clocks (a subject's request, Art. 12(3); a
 * breach's notification, Art. 33) cannot have started before: an earlier time is bad input.
 */
export const GDPR_APPLIES_FROM = new Date("2018-05-25T00:00:00.000Z");

/** Whether a clock given as starting at `at` can have: a valid time, not after `now`, not before the GDPR applied. */
export function isGdprClockStart(at: Date, now: Date): boolean {
  const t = at.getTime();
  return !Number.isNaN(t) && t <= now.getTime() && t >= GDPR_APPLIES_FROM.getTime();
}
