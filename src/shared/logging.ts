import pino, { type Logger } from "pino";

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
  return {
    type: e.name,
    code: driver?.code ?? e.code,
    constraint: driver?.constraint ?? e.constraint,
    // PostgreSQL quotes offending input in some messages ('invalid input syntax ... "x"'): drop quotes.
    message: (typeof driver?.message === "string" ? driver.message : e.message).replace(/"[^"]*"/g, '"…"'),
    stack: e.stack?.split("\n").slice(1, 8).join("\n"),
  };
}
