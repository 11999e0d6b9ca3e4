import type { Server } from "node:http";
import { GraphQLError, getOperationAST, parse, specifiedRules, validate, type ExecutionArgs, type GraphQLSchema, type ValidationRule } from "graphql";
import { CloseCode } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { decodeJwt } from "jose";
import { WebSocketServer, type WebSocket } from "ws";
import type { Principal } from "../auth/principal";
import type { TokenVerifier } from "../auth/jwt";
import { ErrorCode } from "../errors";
import { loggableError, type Logger } from "../logging";
import { RateLimitedError, RequestRateLimiter } from "../rate-limit";
import { assertWithinCost, operationCost, queryLimitMessage, QUERY_LIMITS } from "./query-limits";

/** Sockets one principal may hold open at once. */
export const MAX_SOCKETS_PER_PRINCIPAL = 10;
/**
 * Subscriptions one socket may hold at once. Each one is executed for every event its caller may
 * see: without a bound, one principal's subscriptions (each within the rate limit) would multiply
 * every event of its tenant into thousands of executions and messages.
 */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 20;
/** A socket closed for holding more than its share. */
export const TOO_MANY_SOCKETS = 4429;
/** Largest message a client may send (a subscription document is small). */
const MAX_MESSAGE_BYTES = 64 * 1024;
/** setTimeout's largest delay; a token living longer is checked again then. */
const MAX_TIMER_MS = 2_147_483_647;

interface SocketState {
  principal?: Principal;
  holder?: string;
  expiry?: NodeJS.Timeout;
}

export interface WebSocketOptions {
  http: Server;
  path: string;
  schema: GraphQLSchema;
  tokens: TokenVerifier;
  limiter: RequestRateLimiter | null;
  validationRules: ValidationRule[];
  log: Logger;
  /** The execution context of one subscription of `principal`. */
  contextOf(principal: Principal): unknown;
}

const refusal = (code: ErrorCode, message: string) => [new GraphQLError(message, { extensions: { code } })];

/**
 * GraphQL subscriptions over graphql-ws on the HTTP server's path. `connection_init` carries
 * `{"authorization": "Bearer <token>"}`: none or a bad one closes the socket with 4403, as does
 * the token's expiry. Each subscription passes the same depth, alias, token and cost limits as a
 * query and counts against the caller's rate limit; queries and mutations go over HTTP. At most
 * MAX_SOCKETS_PER_PRINCIPAL sockets per principal, each with at most MAX_SUBSCRIPTIONS_PER_SOCKET
 * subscriptions. `dispose` closes every socket (shutdown).
 */
export function subscriptionServer(options: WebSocketOptions): { dispose(): Promise<void> } {
  const wss = new WebSocketServer({ server: options.http, path: options.path, maxPayload: MAX_MESSAGE_BYTES });
  const sockets = new Map<string, number>();
  const states = new WeakMap<object, SocketState>();
  const stateOf = (extra: object) => {
    let state = states.get(extra);
    if (!state) states.set(extra, (state = {}));
    return state;
  };
  const server = useServer<Record<string, unknown> | undefined, { socket: WebSocket }>(
    {
      schema: options.schema,
      async onConnect(ctx) {
        const authorization = ctx.connectionParams?.authorization;
        if (typeof authorization !== "string") return false;
        let principal: Principal | null;
        try {
          principal = await options.tokens.principalOf(authorization);
        } catch {
          return false;
        }
        if (!principal) return false;
        const holder = RequestRateLimiter.keyOf(principal, undefined);
        const held = sockets.get(holder) ?? 0;
        if (held >= MAX_SOCKETS_PER_PRINCIPAL) {
          ctx.extra.socket.close(TOO_MANY_SOCKETS, "Too many sockets for this principal");
          return false;
        }
        sockets.set(holder, held + 1);
        const state = stateOf(ctx.extra);
        state.principal = principal;
        state.holder = holder;
        // The socket lives as long as its token: at expiry it closes as a refused one would.
        const exp = decodeJwt(authorization.replace(/^Bearer\s+/i, "")).exp;
        const left = typeof exp === "number" ? exp * 1000 - Date.now() : 0;
        state.expiry = setTimeout(() => ctx.extra.socket.close(CloseCode.Forbidden, "Token expired"), Math.min(Math.max(left, 0), MAX_TIMER_MS));
        state.expiry.unref();
        return true;
      },
      onClose(ctx) {
        const state = states.get(ctx.extra);
        if (!state?.holder) return;
        clearTimeout(state.expiry);
        const held = (sockets.get(state.holder) ?? 1) - 1;
        if (held > 0) sockets.set(state.holder, held);
        else sockets.delete(state.holder);
        state.holder = undefined;
      },
      async onSubscribe(ctx, _id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> {
        const principal = states.get(ctx.extra)?.principal;
        if (!principal) return refusal(ErrorCode.UNAUTHENTICATED, "Send a bearer token in connection_init.");
        // The socket's subscriptions, this one included (graphql-ws holds its place while it is set up).
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_SOCKET)
          return refusal(ErrorCode.RATE_LIMITED, `At most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per socket: complete one first.`);
        try {
          await options.limiter?.consume(RequestRateLimiter.keyOf(principal, undefined));
        } catch (error) {
          if (error instanceof RateLimitedError) return refusal(ErrorCode.RATE_LIMITED, error.message);
          throw error;
        }
        let document;
        try {
          document = parse(payload.query, { maxTokens: QUERY_LIMITS.tokens });
        } catch (error) {
          const message = (error as Error).message;
          const limit = queryLimitMessage(message);
          return refusal(limit ? ErrorCode.QUERY_TOO_COMPLEX : ErrorCode.BAD_USER_INPUT, limit ?? message);
        }
        const invalid = validate(options.schema, document, [...specifiedRules, ...options.validationRules]);
        if (invalid.length) {
          const limit = queryLimitMessage(invalid[0].message);
          return refusal(limit ? ErrorCode.QUERY_TOO_COMPLEX : ErrorCode.BAD_USER_INPUT, limit ?? invalid[0].message);
        }
        const operation = getOperationAST(document, payload.operationName);
        if (operation?.operation !== "subscription")
          return refusal(ErrorCode.BAD_USER_INPUT, "Only subscriptions go over the WebSocket: send queries and mutations over HTTP.");
        const variables = payload.variables ?? {};
        try {
          assertWithinCost(operationCost(options.schema, document, operation, variables));
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        return {
          schema: options.schema,
          document,
          operationName: payload.operationName,
          variableValues: variables,
          contextValue: options.contextOf(principal),
        };
      },
      onError(_ctx, _id, _payload, errors) {
        for (const error of errors) {
          if (!error.extensions?.code) options.log.warn({ error: loggableError(error.originalError ?? error) }, "a subscription failed");
        }
      },
    },
    wss,
  );
  return {
    async dispose() {
      await server.dispose();
      await new Promise<void>((ok) => wss.close(() => ok()));
    },
  };
}
