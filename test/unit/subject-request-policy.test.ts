import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  askIdentity,
  clockFrom,
  extend,
  isOverdue,
  periodEnd,
  requireExportSince,
  requireReason,
  requireReceipt,
  requireSubjectForReason,
  SubjectRequestStatus,
  type RequestState,
} from "../../src/modules/subject-request/subject-request-policy";
import { GDPR_APPLIES_FROM } from "../../src/shared/gdpr";

const endOf = (day: string) => new Date(`${day}T23:59:59.999Z`);
const DAY = 86_400_000;

/**
 * The same rule, counted another way: walk day by day from the start; the due day is the last
 * day of the target month whose date is not past the start's; then step over a weekend.
 */
function independentDue(start: Date, months: number): Date {
  const startDate = start.getUTCDate();
  const targetMonth = start.getUTCFullYear() * 12 + start.getUTCMonth() + months;
  let day = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), startDate);
  let due = NaN;
  for (;;) {
    const d = new Date(day);
    const monthIndex = d.getUTCFullYear() * 12 + d.getUTCMonth();
    if (monthIndex > targetMonth) break;
    if (monthIndex === targetMonth && d.getUTCDate() <= startDate) due = day;
    day += DAY;
  }
  while ([0, 6].includes(new Date(due).getUTCDay())) due += DAY;
  return new Date(due + DAY - 1);
}

describe("a subject request's deadline (Art. 12(3), Regulation 1182/71)", () => {
  it("ends at the end of the same date one month later, the month's last day, or the Monday after a weekend", () => {
    assert.deepEqual(periodEnd(new Date("2026-03-05T10:00:00Z"), 1), endOf("2026-04-06"), "5 April 2026 is a Sunday");
    assert.deepEqual(periodEnd(new Date("2026-01-31T08:00:00Z"), 1), endOf("2026-03-02"), "28 February 2026 is a Saturday");
    assert.deepEqual(periodEnd(new Date("2026-08-31T23:59:00Z"), 1), endOf("2026-09-30"));
    // A year below 100 stays itself (Date.UTC would read 50 as 1950).
    const early = periodEnd(new Date("0050-03-05T10:00:00Z"), 1);
    assert.deepEqual([early.getUTCFullYear(), early.getUTCMonth(), early.getUTCHours()], [50, 3, 23]);
  });

  it("extended, is three months from the clock's start by the same rule", () => {
    assert.deepEqual(periodEnd(new Date("2026-03-05T00:00:00Z"), 3), endOf("2026-06-05"));
    assert.deepEqual(periodEnd(new Date("2026-11-30T12:00:00Z"), 3), endOf("2027-03-01"), "28 February 2027 is a Sunday");
  });

  it("agrees with an independent count for every start over four years, for one and three months", () => {
    for (let t = Date.UTC(2025, 0, 1, 13); t < Date.UTC(2029, 0, 1); t += DAY) {
      for (const months of [1, 3]) {
        const start = new Date(t + ((t / DAY) % 7) * 3_600_000);
        assert.deepEqual(periodEnd(start, months), independentDue(start, months), `${start.toISOString()} + ${months}`);
      }
    }
  });

  it("the independent count itself catches a rule that forgets the weekend", () => {
    const noWeekend = new Date(Date.UTC(2026, 3, 5) + DAY - 1);
    assert.notDeepEqual(independentDue(new Date("2026-03-05T10:00:00Z"), 1), noWeekend);
  });
});

describe("a subject request's steps", () => {
  const open = (start: string): RequestState => ({ status: SubjectRequestStatus.OPEN, identityRequestedAt: null, ...clockFrom(new Date(start)) });

  it("extends once, before the due date only", () => {
    const state = open("2026-03-05T10:00:00Z");
    const due = extend(new Date("2026-04-01T00:00:00Z"), state);
    assert.deepEqual(due, { dueAt: endOf("2026-06-05"), originalDueAt: endOf("2026-04-06") });
    assert.throws(() => extend(new Date("2026-04-02T00:00:00Z"), { ...state, ...due }), { extensions: { code: "INVALID_STATE" } });
    assert.throws(() => extend(new Date("2026-04-07T00:00:00Z"), state), { extensions: { code: "INVALID_STATE" } });
    assert.throws(() => requireReason("   ", "the extension"), { extensions: { code: "BAD_USER_INPUT", field: "reason" } });
  });

  it("asks for identity once, while open and not late; overdue only while OPEN past the due date", () => {
    const state = open("2026-03-05T10:00:00Z");
    askIdentity(new Date("2026-03-10T00:00:00Z"), state);
    assert.throws(() => askIdentity(new Date("2026-03-10T00:00:00Z"), { ...state, identityRequestedAt: new Date() }), {
      extensions: { code: "INVALID_STATE" },
    });
    assert.throws(() => askIdentity(new Date("2026-04-07T00:00:00Z"), state), { extensions: { code: "INVALID_STATE" } });
    assert.equal(isOverdue(endOf("2026-04-06"), state), false, "the due day's last millisecond is in time");
    assert.equal(isOverdue(new Date(endOf("2026-04-06").getTime() + 1), state), true);
    assert.equal(isOverdue(new Date("2027-01-01T00:00:00Z"), { ...state, status: SubjectRequestStatus.COMPLETED }), false);
  });

  it("answers ACCESS with an export made since the clock started, or with nothing once the subject is purged", () => {
    const state = open("2026-03-05T10:00:00Z");
    assert.throws(() => requireExportSince(state, null, false), { extensions: { code: "INVALID_STATE" } });
    assert.throws(() => requireExportSince(state, new Date("2026-03-05T09:59:59Z"), false), { extensions: { code: "INVALID_STATE" } });
    requireExportSince(state, new Date("2026-03-05T10:00:00Z"), false);
    requireExportSince(state, null, true);
  });

  it("takes a receipt time from the GDPR's first day up to now, never later or earlier", () => {
    const now = new Date("2026-03-05T10:00:00Z");
    assert.deepEqual(requireReceipt(GDPR_APPLIES_FROM, now), GDPR_APPLIES_FROM);
    assert.deepEqual(requireReceipt(now, now), now);
    for (const bad of ["2018-05-24T23:59:59.999Z", "0050-03-05T10:00:00Z", "2026-03-05T10:00:00.001Z"])
      assert.throws(() => requireReceipt(new Date(bad), now), { extensions: { code: "BAD_USER_INPUT", field: "receivedAt" } }, bad);
    assert.throws(() => requireReceipt(new Date(NaN), now), { extensions: { code: "BAD_USER_INPUT", field: "receivedAt" } });
  });

  it("takes a reason only while the subject is there to seal it under and to read it", () => {
    requireSubjectForReason(false);
    assert.throws(() => requireSubjectForReason(true), { extensions: { code: "INVALID_STATE" } });
  });
});
