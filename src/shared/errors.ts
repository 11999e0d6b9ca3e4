import { GraphQLError } from "graphql";

/**
 * The error-code registry of the partner contract (contract.graphql, end of file).
 * Each code has one meaning; every error a client sees carries one of them.
 */
export const ErrorCode = {
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  BAD_USER_INPUT: "BAD_USER_INPUT",
  RESIDENCY_VIOLATION: "RESIDENCY_VIOLATION",
  PURPOSE_PROHIBITED: "PURPOSE_PROHIBITED",
  PURPOSE_NOT_PERMITTED: "PURPOSE_NOT_PERMITTED",
  CONSENT_REQUIRED: "CONSENT_REQUIRED",
  CONSENT_REVOKED: "CONSENT_REVOKED",
  SUBPROCESSOR_NOT_LISTED: "SUBPROCESSOR_NOT_LISTED",
  SHARING_PROHIBITED: "SHARING_PROHIBITED",
  CATEGORY_NOT_COVERED: "CATEGORY_NOT_COVERED",
  RECORD_PENDING_DELETION: "RECORD_PENDING_DELETION",
  SUBSCRIPTION_ENDED: "SUBSCRIPTION_ENDED",
  VERSION_CONFLICT: "VERSION_CONFLICT",
  IDEMPOTENCY_CONFLICT: "IDEMPOTENCY_CONFLICT",
  INVALID_STATE: "INVALID_STATE",
  QUERY_TOO_COMPLEX: "QUERY_TOO_COMPLEX",
  INTERNAL_SERVER_ERROR: "INTERNAL_SERVER_ERROR",
  /** The key was destroyed at purge: the data can never be read again (e.g. a row of a restored backup). */
  DATA_SHREDDED: "DATA_SHREDDED",
  /** A stored value failed authentication (tampered with, moved to another row): it is not returned. */
  DATA_INTEGRITY_FAILURE: "DATA_INTEGRITY_FAILURE",
  /** Not in the partner contract's list: too many requests from one principal (HTTP 429, Retry-After). */
  RATE_LIMITED: "RATE_LIMITED",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const CONTRACT_CODES = new Set<string>(Object.values(ErrorCode));
export function isContractCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && CONTRACT_CODES.has(code);
}

/**
 * A refusal by a rule. The message says which rule refused and what to do instead;
 * it never contains a personal data value.
 */
export class DomainError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    extensions: Record<string, unknown> = {},
  ) {
    super(message, { extensions: { ...extensions, code } });
    this.name = "DomainError";
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = "A valid bearer token is required: send `Authorization: Bearer <JWT>`.") {
    super(ErrorCode.UNAUTHENTICATED, message, { http: { status: 401 } });
  }
}

export class ForbiddenError extends DomainError {
  constructor(message = "Your role may not perform this operation.") {
    super(ErrorCode.FORBIDDEN, message);
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string) {
    super(ErrorCode.NOT_FOUND, `No ${what} with that id exists in your scope.`);
  }
}

export class BadUserInputError extends DomainError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(ErrorCode.BAD_USER_INPUT, message, { field });
  }
}

/** The code a thrown value carries, or INTERNAL_SERVER_ERROR when it carries none we know. */
export function errorCodeOf(error: unknown): ErrorCode {
  const code = error instanceof GraphQLError ? error.extensions?.code : undefined;
  return isContractCode(code) ? code : ErrorCode.INTERNAL_SERVER_ERROR;
}
