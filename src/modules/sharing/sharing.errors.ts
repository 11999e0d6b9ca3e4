import { BadUserInputError, DomainError, ErrorCode } from "../../shared/errors";

/** Sharing's refusals, with their messages. */
export const SharingErrors = {
  neverReceivesData: (partyName: string) =>
    new DomainError(ErrorCode.SHARING_PROHIBITED, `${partyName} never receives data: no agreement can be made with it.`, { field: "thirdPartyId" }),
  noDataCategory: () => new BadUserInputError("dataCategories", "Name at least one data category."),
  agentTakesNoConsent: () => new DomainError(ErrorCode.INVALID_STATE, "Agreements with agents follow the subprocessor list; they take no consent."),
  consentRevoked: () => new DomainError(ErrorCode.CONSENT_REVOKED, "Consent to this agreement was revoked, which is final: make a new agreement."),
  reasonTooLong: () => new BadUserInputError("reason", "A reason has at most 500 characters."),
  shareSize: (max: number, named: number) => new BadUserInputError("recordIds", `A share names 1..${max} records; this one names ${named}.`),
};
