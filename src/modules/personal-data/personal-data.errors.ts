import { BadUserInputError, DomainError, ErrorCode } from "../../shared/errors";

/** Personal data's refusals, with their messages. */
export const RecordErrors = {
  expectedVersionInvalid: () => new BadUserInputError("expectedVersion", "expectedVersion is the record's version as read: a whole number from 1."),
  versionConflict: (current: number | undefined) =>
    new DomainError(ErrorCode.VERSION_CONFLICT, `The record changed since you read it (now version ${current}); read it again and retry.`, {
      field: "expectedVersion",
    }),
  pendingDeletion: () => new DomainError(ErrorCode.RECORD_PENDING_DELETION, "The record is pending deletion: it can no longer be read, corrected or shared."),
  idempotencyConflict: () =>
    new DomainError(
      ErrorCode.IDEMPOTENCY_CONFLICT,
      "This idempotency key was used with a different request in the last 24 hours; use a new key for a new request.",
      { field: "idempotencyKey" },
    ),
};
