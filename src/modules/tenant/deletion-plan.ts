const DAY_MS = 86_400_000;

export interface DeletionPlan {
  requestedAt: Date;
  purgeDueAt: Date;
}

/**
 * DOMAIN rule 6: a deleted record is pending at once and purged at the request time plus the
 * tenant's grace (1..30 days). `now` is the service clock.
 */
export function activeDeletion(now: Date, graceDays: number): DeletionPlan {
  if (!Number.isInteger(graceDays) || graceDays < 1 || graceDays > 30) throw new Error(`deletion grace of ${graceDays} days is outside 1..30`);
  return { requestedAt: now, purgeDueAt: new Date(now.getTime() + graceDays * DAY_MS) };
}
