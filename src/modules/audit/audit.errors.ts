import { BadUserInputError } from "../../shared/errors";

/** The audit log's refusals, with their messages. */
export const AuditErrors = {
  emptyTimeRange: () => new BadUserInputError("filter.until", "`until` is before `since`: the time range is empty."),
  foreignCursor: () => new BadUserInputError("after", "`after` is not a cursor this API issued."),
  checkpointCount: () => new BadUserInputError("first", "`first` is from 1 to 100."),
};
