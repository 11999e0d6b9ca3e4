import { GraphQLError } from "graphql";
import pino, { type Logger } from "pino";
import { sanitizeRequestErrorMessage } from "./graphql/format-error";

export type { Logger };

/**
 * JSON logs. Request bodies, variables and query strings are never logged: they can hold
 * personal data. Authorization headers are redacted.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "custodian" },
      redact: { paths: ["req.headers.authorization", "req.headers.cookie", "headers.authorization"], censor: "[redacted]" },
    },
    destination,
  );
}

/**
 * What may be logged of an unexpected error: its class, codes, constraint and message.
 * Never PostgreSQL's `detail`, nor TypeORM's `query`/`parameters`: those hold values.
 */
export function loggableError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  const e = error as Error & { code?: unknown; constraint?: unknown; driverError?: { code?: unknown; constraint?: unknown; message?: unknown } };
  const driver = e.driverError;
  const code = driver?.code ?? e.code;
  const fromDatabase = !!driver || (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code));
  return {
    type: e.name,
    code,
    constraint: driver?.constraint ?? e.constraint,
    message: fromDatabase
      ? safeDatabaseMessage(String(driver?.message ?? e.message))
      : error instanceof GraphQLError
        ? sanitizeRequestErrorMessage(e.message).message // graphql-js quotes values it cannot coerce
        : e.message,
    stack: e.stack?.split("\n").slice(1, 8).join("\n"),
  };
}

/** PostgreSQL quotes offending input in some messages ('invalid input syntax ... "x"'): drop it. */
function safeDatabaseMessage(message: string): string {
  return message.replace(/"[^"]*"/g, '"…"');
}
