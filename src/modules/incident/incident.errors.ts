import { BadUserInputError, DomainError, ErrorCode } from "../../shared/errors";

/** Security incidents' refusals, with their messages. */
export const IncidentErrors = {
  detectionTime: () =>
    new BadUserInputError("detectedAt", "detectedAt is when the incident was detected: it cannot be in the future, nor before the GDPR applied (2018-05-25)."),
  unknownAffectedTenant: (index: number) =>
    new DomainError(ErrorCode.BAD_USER_INPUT, "Every affected tenant id must name an existing tenant.", { field: "affectedTenantIds", index }),
  dismissalReason: () => new BadUserInputError("reason", "Give the reason for dismissing the incident (1..2000 characters)."),
  resolutionText: () => new BadUserInputError("resolution", "Describe how the incident was resolved (1..2000 characters)."),
};
