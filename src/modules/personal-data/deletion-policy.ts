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
