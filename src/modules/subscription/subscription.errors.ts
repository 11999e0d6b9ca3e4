import { DomainError, ErrorCode } from "../../shared/errors";

/** Subscription steps' refusals, with their messages. */
export const SubscriptionErrors = {
  notActive: (status: string) => new DomainError(ErrorCode.INVALID_STATE, `The subscription is ${status}; only an ACTIVE subscription can end.`),
  notEnded: (status: string) => new DomainError(ErrorCode.INVALID_STATE, `The subscription is ${status}; only an ENDED subscription can be reactivated.`),
  purgeDue: () => new DomainError(ErrorCode.INVALID_STATE, "The tenant's data is due for purging: it can no longer be restored."),
};
