import { BadUserInputError, DomainError, ErrorCode } from "../../shared/errors";

/** Data subjects' refusals, with their messages. */
export const DataSubjectErrors = {
  externalIdTaken: () => new BadUserInputError("externalId", "A data subject with this externalId is already registered in the tenant."),
  notInTenant: () => new DomainError(ErrorCode.NOT_FOUND, "No data subject with that id exists in the tenant.", { field: "dataSubjectId" }),
  deleted: () => new DomainError(ErrorCode.INVALID_STATE, "The data subject is deleted: no new records can be collected about it.", { field: "dataSubjectId" }),
};
