import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import type { GraphQLError } from "graphql";
import { ErrorCode } from "./errors";
import { loggableError, type Logger } from "./logging";

/** The largest body a request without a bearer token may send: enough for any query, too little to keep the process busy. */
export const ANONYMOUS_BODY_LIMIT_BYTES = 16 * 1024;

/** RFC 6750: every 401 names the scheme; `invalid_token` when a token was sent and refused. */
export function wwwAuthenticate(tokenRefused: boolean): string {
  return `Bearer realm="custodian"${tokenRefused ? ', error="invalid_token"' : ""}`;
}

/** The one shape of an HTTP-level refusal: a GraphQL-style JSON body whose error carries a code. */
export function sendError(res: Response, status: number, code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): void {
  res.status(status).json({ errors: [{ message, extensions: { code, ...extensions } }] });
}

/** A refusal raised before GraphQL (a token, the rate limit), answered with the status and headers it carries. */
export function sendGraphQLError(res: Response, error: GraphQLError): void {
  const { http, code, ...extensions } = error.extensions as { http?: { status?: number; headers?: Map<string, string> }; code?: ErrorCode };
  for (const [name, value] of http?.headers ?? []) res.setHeader(name, value);
  sendError(res, http?.status ?? 400, code ?? ErrorCode.BAD_USER_INPUT, error.message, extensions);
}

/** What body-parser's refusals mean to a client, by their `type`; no message repeats what was sent. */
function bodyRefusal(error: { type?: string; status?: number; limit?: number }): { status: number; message: string } | null {
  switch (error.type) {
    case "entity.too.large":
      return {
        status: 413,
        message: `The request body is larger than ${error.limit} bytes${error.limit === ANONYMOUS_BODY_LIMIT_BYTES ? " (the limit for a request without a bearer token)" : ""}.`,
      };
    case "entity.parse.failed":
      return { status: 400, message: "The request body is not valid JSON." };
    case "charset.unsupported":
      return { status: 415, message: "The request body must be JSON in UTF-8: send `content-type: application/json` without another charset." };
    case "encoding.unsupported":
      return { status: 415, message: "The request body's Content-Encoding is not supported: send it uncompressed, or as gzip, deflate or br." };
    case "request.aborted":
      return { status: 400, message: "The request body ended early." };
    default:
      return typeof error.status === "number" && error.status >= 400 && error.status < 500
        ? { status: error.status, message: "The request cannot be read." }
        : null;
  }
}

/**
 * Every error Express or a body parser raises, as JSON with a contract code: never the HTML page
 * Express writes by default, which carried a stack trace and absolute paths in development.
 */
export function errorsAsJson(log: Logger): ErrorRequestHandler {
  return (error, _req, res, next) => {
    if (res.headersSent) return next(error);
    const refusal = bodyRefusal(error as { type?: string; status?: number; limit?: number });
    if (refusal) return sendError(res, refusal.status, ErrorCode.BAD_USER_INPUT, refusal.message);
    log.error({ error: loggableError(error) }, "request failed outside GraphQL");
    sendError(res, 500, ErrorCode.INTERNAL_SERVER_ERROR, "Internal server error.");
  };
}

/** Paths the service does not serve, as JSON. */
export function notFoundAsJson(): RequestHandler {
  return (_req, res) => sendError(res, 404, ErrorCode.NOT_FOUND, "Nothing is served at this path: use POST /graphql, GET /healthz or GET /readyz.");
}
