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

/**
 * Which records an active deletion takes: active ones, and ones pending only because the
 * subscription ended (they then keep their own deletion when the subscription is reactivated).
 * A record already actively deleted keeps its due date: deleting twice changes nothing.
 */
const ACTIVELY_DELETABLE = { status: "ACTIVE", deletionReason: "PASSIVE_DELETION" } as const;

/** The rule as SQL over personal_data_record's columns, built from the same two values as the predicate below. */
export const ACTIVELY_DELETABLE_SQL = `(status = '${ACTIVELY_DELETABLE.status}' OR deletion_reason = '${ACTIVELY_DELETABLE.deletionReason}')`;

export function isActivelyDeletable(record: { status: string; deletionReason: string | null }): boolean {
  return record.status === ACTIVELY_DELETABLE.status || record.deletionReason === ACTIVELY_DELETABLE.deletionReason;
}
