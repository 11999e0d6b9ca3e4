import { unwrapResolverError } from "@apollo/server/errors";
import { failedDatabaseOf, type FailedOn } from "../db/failed-database";
import { CONTROL, DatabaseUnavailableError } from "../db/topology";
import type { ValidationError } from "class-validator";
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { ArgumentValidationError } from "type-graphql";
import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from "typeorm";
import { ErrorCode, isContractCode } from "../errors";
import { queryLimitMessage } from "./query-limits";

/** Codes graphql-js and Apollo give to malformed requests: to clients these are BAD_USER_INPUT. */
const REQUEST_ERROR_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
  "BAD_REQUEST",
  "OPERATION_RESOLUTION_FAILURE",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
]);

/** True for refusals a client caused (contract codes and malformed requests); false for our faults. */
export function isClientError(code: unknown): boolean {
  return (
    typeof code === "string" && code !== ErrorCode.INTERNAL_SERVER_ERROR && (isContractCode(code) || REQUEST_ERROR_CODES.has(code) || code === "UNAUTHORIZED")
  );
}

const DATABASE_UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
  // too_many_connections: the server is full for now (instances at their peak share it).
  "53300",
]);

/** The storage location whose region database (or key store) an error says is unavailable, if it names one. */
function regionOf(error: unknown): FailedOn | null {
  // A database that could not be opened, or a statement that failed on one (failed-database.ts).
  const failed = unopenedDatabaseOf(error) ?? failedDatabaseOf(error);
  return failed === null || failed.database === CONTROL ? null : failed;
}

function unopenedDatabaseOf(error: unknown, depth = 0): FailedOn | null {
  if (!error || depth > 4) return null;
  if (error instanceof DatabaseUnavailableError) return { database: error.database, part: error.part };
  const e = error as { originalError?: unknown; cause?: unknown };
  return unopenedDatabaseOf(e.originalError, depth + 1) ?? unopenedDatabaseOf(e.cause, depth + 1);
}

/** True when the error says the database cannot be reached right now (a passing condition). */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  const e = error as { code?: unknown; driverError?: unknown; originalError?: unknown; cause?: unknown; message?: unknown };
  if (!e || depth > 4) return false;
  if (error instanceof DatabaseUnavailableError) return true;
  const code = (e.driverError as { code?: unknown } | undefined)?.code ?? e.code;
  if (typeof code === "string" && DATABASE_UNAVAILABLE_CODES.has(code)) return true;
  // TypeORM releases a runner whose connection reported an error, then refuses its queries. A
  // request's session is otherwise released only at its end, when nothing queries any more.
  if (error instanceof QueryRunnerAlreadyReleasedError || error instanceof QueryRunnerProviderAlreadyReleasedError) return true;
  const message = typeof e.message === "string" ? e.message : "";
  if (
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED|terminating connection|the database system is (shutting down|starting up|in recovery mode)|Client was closed|not queryable|Connection ended/.test(
      message,
    )
  ) {
    return true;
  }
  // Apollo wraps what the context function threw; TypeORM wraps the driver's error.
  return [e.originalError, e.driverError, e.cause].some((inner) => inner && inner !== error && isDatabaseUnavailable(inner, depth + 1));
}

/** The first failing input path of a class-validator result, e.g. "retentionPolicy.deletionGraceDays". */
function firstFailure(errors: readonly ValidationError[], prefix = ""): { field: string; problems: string[] } | undefined {
  for (const error of errors) {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    if (error.constraints && Object.keys(error.constraints).length > 0) {
      return { field, problems: Object.values(error.constraints) };
    }
    const nested = firstFailure(error.children ?? [], field);
    if (nested) return nested;
  }
  return undefined;
}

/**
 * graphql-js messages about bad values quote the value itself ("got invalid value ...",
 * "found ...", "cannot represent ..."). Those values may be personal data: keep the
 * where and the expected type, drop the value.
 */
export function sanitizeRequestErrorMessage(message: string): { message: string; field?: string } {
  const variable = /^Variable "\$([A-Za-z_]\w*)" got invalid value /.exec(message);
  if (variable) {
    // The value is printed before the path, and a key of it can look like one: only a path of
    // names and indices under this variable counts, the last such (graphql-js's own comes last).
    const name = variable[1];
    const shaped = new RegExp(`^${name}(?:\\.[A-Za-z_]\\w*|\\[\\d+\\])+$`);
    const field = [...message.matchAll(/ at "([^"]+)"; /g)]
      .map((m) => m[1])
      .filter((path) => shaped.test(path))
      .pop();
    return { message: `Variable "$${name}" has an invalid value${field ? ` at "${field}"` : ""}.`, field: field ?? name };
  }
  const variableAny = /^Variable "(\$[A-Za-z_]\w*)" got invalid value/.exec(message);
  if (variableAny) return { message: `Variable "${variableAny[1]}" has an invalid value.`, field: variableAny[1].slice(1) };
  const literal = /^Expected value of type "([^"]+)", found/.exec(message);
  if (literal) return { message: `A literal argument is not a valid "${literal[1]}".` };
  if (/cannot represent|got invalid value|found /.test(message)) return { message: "An input value does not fit its type." };
  return { message };
}

/**
 * graphql-js's own words for a document it cannot parse, with the position, and token values
 * dropped ("found String \"...\"" becomes "found String"): a string token can be personal data.
 */
export function syntaxErrorMessage(message: string, location: { line: number; column: number } | undefined): string {
  const what = message.replace(/^Syntax Error: /, "").replace(/\b(Name|String|BlockString|Int|Float|Comment) ".*"(\.?)$/s, "$1$2");
  return location ? `Syntax error at line ${location.line}, column ${location.column}: ${what}` : `Syntax error: ${what}`;
}

/** graphql-js's "Did you mean ...?" and graphql-armor's "[Suggestion hidden]" remnants. */
const SUGGESTION = /\s*(Did you mean [^?]*\?|\[Suggestion hidden\]\??)/g;

/** A message without suggestions: in production they would tell an anonymous caller the schema's names. */
export function withoutSuggestions(message: string): string {
  return message.replace(SUGGESTION, "");
}

export interface FormatErrorOptions {
  /** Keep stack traces in responses (DEBUG_ERRORS, never in production). */
  debug: boolean;
  /** Production: no "did you mean" suggestion in any message. */
  production?: boolean;
}

/**
 * The one place errors are shaped for clients (see shapeError); in production every message
 * leaves without suggestions, whichever path shaped it.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, options: FormatErrorOptions): GraphQLFormattedError {
  const shaped = shapeError(formatted, error, options);
  return options.production ? { ...shaped, message: withoutSuggestions(shaped.message) } : shaped;
}

/**
 * Every error leaves with a contract code;
 * validation failures name the field but never echo the value; type-graphql's UNAUTHORIZED
 * becomes FORBIDDEN; anything unexpected becomes INTERNAL_SERVER_ERROR without stack, SQL or value.
 */
function shapeError(formatted: GraphQLFormattedError, error: unknown, options: FormatErrorOptions): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const base = { locations: formatted.locations, path: formatted.path };
  const stack = options.debug && original instanceof Error ? { stacktrace: original.stack?.split("\n") } : {};
  const shaped = (code: ErrorCode, message: string, extra: Record<string, unknown> = {}): GraphQLFormattedError => ({
    ...base,
    message,
    extensions: { code, ...extra, ...stack },
  });

  if (original instanceof ArgumentValidationError) {
    const failure = firstFailure(original.extensions.validationErrors as ValidationError[]);
    const field = failure?.field ?? "input";
    return shaped(ErrorCode.BAD_USER_INPUT, `Invalid input at "${field}": ${failure?.problems.join("; ") ?? "not valid"}.`, { field });
  }

  const code = original instanceof GraphQLError ? original.extensions?.code : formatted.extensions?.code;

  // graphql-js stops coercing variables after 50 problems; the request was still the client's fault.
  if (/^Too many errors processing variables/.test(formatted.message)) {
    return shaped(ErrorCode.BAD_USER_INPUT, "The variables have too many invalid values; fix the ones reported and retry.");
  }

  // A query limit (depth, aliases, directives, tokens) refused the document before execution.
  const limit = queryLimitMessage(formatted.message);
  if (limit) return shaped(ErrorCode.QUERY_TOO_COMPLEX, limit);

  if (code === "UNAUTHORIZED") return shaped(ErrorCode.FORBIDDEN, "Your role may not perform this operation.");

  if (isContractCode(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR && original instanceof GraphQLError && code !== "BAD_USER_INPUT") {
    const { code: _code, http: _http, stacktrace: _stack, ...rest } = original.extensions ?? {};
    return shaped(code, formatted.message.replace(/^Context creation failed: /, ""), rest);
  }
  if (code === ErrorCode.BAD_USER_INPUT && original instanceof GraphQLError && typeof original.extensions?.field === "string") {
    // Raised by our own rules: already value-free, and it names its field.
    const index = typeof original.extensions.index === "number" ? { index: original.extensions.index } : {};
    return shaped(ErrorCode.BAD_USER_INPUT, formatted.message, { field: original.extensions.field, ...index });
  }
  // graphql-js's stage (a parse or a validation failure) stays visible as `reason`.
  const reason = code !== ErrorCode.BAD_USER_INPUT ? { reason: code } : {};
  if (code === "GRAPHQL_PARSE_FAILED" && /^Syntax Error: /.test(formatted.message)) {
    return shaped(ErrorCode.BAD_USER_INPUT, syntaxErrorMessage(formatted.message, formatted.locations?.[0]), reason);
  }
  if (typeof code === "string" && REQUEST_ERROR_CODES.has(code)) {
    const { message, field } = sanitizeRequestErrorMessage(formatted.message);
    return shaped(ErrorCode.BAD_USER_INPUT, message, { ...(field ? { field } : {}), ...reason });
  }
  if (isDatabaseUnavailable(original)) {
    const region = regionOf(original);
    if (region) {
      return shaped(
        ErrorCode.INTERNAL_SERVER_ERROR,
        `The ${region.database} storage location's ${region.part} is unavailable at the moment; nothing was changed there. Retry shortly.`,
        {
          retryable: true,
          storageLocation: region.database,
        },
      );
    }
    return shaped(ErrorCode.INTERNAL_SERVER_ERROR, "The database is unavailable at the moment; nothing was changed. Retry shortly.", { retryable: true });
  }
  return shaped(ErrorCode.INTERNAL_SERVER_ERROR, "Internal server error.");
}
