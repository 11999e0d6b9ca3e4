import type { DataSource } from "typeorm";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { compiledExecution } from "./shared/read-path/compiled-execution";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { expressMiddleware } from "@as-integrations/express5";
import express, { type RequestHandler } from "express";
import { visit, type GraphQLFormattedError, type GraphQLSchema } from "graphql";
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { pinoHttp } from "pino-http";
import { CONTROL, type Topology } from "./shared/db/topology";
import type { EventFeed } from "./modules/events/event-feed";
import { EventHub } from "./modules/events/event-hub";
import type { EventSubscriptionContext } from "./modules/events/events.resolver";
import { subscriptionServer } from "./shared/graphql/websocket";
import type { Config } from "./config";
import { createRequestContext, type RequestContext } from "./context";
import { IdentityProviderUnavailableError, remoteKeySet, TokenVerifier } from "./shared/auth/jwt";
import { operationMetrics } from "./shared/graphql/operation-metrics";
import { explorer } from "./shared/explorer";
import { metricsEndpoint, rateLimitRefusals, watchPools, watchSubscriptions, type PoolCounts } from "./shared/metrics";
import { hasMoreKeysThan, TOO_MANY_VARIABLES, VARIABLE_LIMITS, variableLimits } from "./shared/graphql/variable-limits";
import { ANONYMOUS_BODY_LIMIT_BYTES, errorsAsJson, notFoundAsJson, sendError, sendGraphQLError, wwwAuthenticate } from "./shared/http-errors";
import { RateLimitedError, RequestRateLimiter } from "./shared/rate-limit";
import type { Clock } from "./shared/clock";
import { ErrorCode, UnauthenticatedError } from "./shared/errors";
import { armor, costLimit } from "./shared/graphql/query-limits";
import { formatError, isClientError, isDatabaseUnavailable } from "./shared/graphql/format-error";
import { loggableError, type Logger } from "./shared/logging";
import { currentMemory, defaultMemoryLimitBytes, memoryExhausted } from "./shared/memory-guard";

export interface ServerDeps {
  config: Pick<Config, "port" | "host" | "jwtSecret" | "debugErrors" | "bodyLimitBytes" | "production"> &
    Partial<
      Pick<
        Config,
        "jwtPublicKey" | "jwtIssuer" | "jwtAudience" | "jwtJwks" | "jwtClaims" | "rateLimitPerMinute" | "shutdownTimeoutMs" | "metricsToken" | "explorer"
      >
    > & {
      /** New requests are refused (503, retryable) while the process uses this much; default three quarters of its heap limit. */
      memoryLimitBytes?: number;
    };
  topology: Topology;
  clock: Clock;
  log: Logger;
  schema: GraphQLSchema;
  /** Committed events as they commit: what GraphQL subscriptions are fed from (none: no subscriptions). */
  feed?: EventFeed;
  /**
   * False once something every request needs is gone for good (the embedded PostgreSQL exited
   * and could not be restarted): liveness fails, so a supervisor restarts the process.
   */
  alive?: () => boolean;
}

export interface CustodianServer {
  url: string;
  apollo: ApolloServer<RequestContext>;
  http: Server;
  /** Stops accepting, drains in-flight requests, then returns (the pool is the caller's). */
  stop(): Promise<void>;
}

/** Logs each failed operation by code; unexpected errors with their safe fields only. */
function errorLogging(log: Logger): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue, operationName }) {
          const requestLog = contextValue?.log ?? log;
          for (const error of errors) {
            const code = error.extensions?.code;
            if (!isClientError(code)) {
              requestLog.error({ operationName, path: error.path, error: loggableError(error.originalError ?? error) }, "operation failed");
            } else {
              requestLog.info({ operationName, path: error.path, code }, "operation refused");
            }
          }
        },
      };
    },
  };
}

/**
 * Closes the request's session before the response leaves (every mutation committed before its
 * result was returned; the scope is cleared and the connection goes back to the pool).
 */
function sessionClosing(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          addMissingRegions(contextValue, response.body);
          addRecordsLeftOut(contextValue, response.body);
          try {
            await contextValue.unit?.close();
          } catch (error) {
            // An outage the answer already reports (its failed statements): keep that answer
            // rather than Apollo's opaque "unexpected error".
            const reported = response.body.kind === "single" && (response.body.singleResult.errors?.length ?? 0) > 0;
            if (!(reported && isDatabaseUnavailable(error))) throw error;
          }
        },
      };
    },
  };
}

/**
 * A fan-out that some regions did not answer keeps the others' rows and says which locations are
 * missing: one error each, retryable, naming the location (a GraphQL partial result).
 */
function addMissingRegions(ctx: RequestContext | undefined, body: { kind: string; singleResult?: { errors?: ReadonlyArray<GraphQLFormattedError> } }): void {
  if (!ctx?.regionsMissing?.size || body.kind !== "single" || !body.singleResult) return;
  const missing = [...ctx.regionsMissing].sort().map((location): GraphQLFormattedError => ({
    message: `The ${location} storage location's database is unavailable: its tenants are missing from this answer. Retry shortly.`,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, retryable: true, storageLocation: location },
  }));
  body.singleResult.errors = [...(body.singleResult.errors ?? []), ...missing];
}

/** Records a page left out because their value failed authentication: one error each, naming the record. */
function addRecordsLeftOut(ctx: RequestContext | undefined, body: { kind: string; singleResult?: { errors?: ReadonlyArray<GraphQLFormattedError> } }): void {
  if (!ctx?.recordsLeftOut?.length || body.kind !== "single" || !body.singleResult) return;
  const leftOut = [...new Set(ctx.recordsLeftOut)].sort().map((recordId): GraphQLFormattedError => ({
    message: "A record's stored value failed authentication (tampered with or moved): the record is left out of this page.",
    extensions: { code: ErrorCode.DATA_INTEGRITY_FAILURE, recordId },
  }));
  body.singleResult.errors = [...(body.singleResult.errors ?? []), ...leftOut];
}

/**
 * One HTTP status per kind of answer: UNAUTHENTICATED is always 401 with `WWW-Authenticate:
 * Bearer` (a missing token and a refused one alike), and a request refused before execution for
 * the client's fault (a cost, a NUL, a variable limit) is 400 like graphql-js's own refusals;
 * Apollo made refusals thrown from a plugin 500.
 */
function httpStatusOfRefusals(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== "single") return;
          const { errors, data } = response.body.singleResult;
          const codes = (errors ?? []).map((e) => e.extensions?.code);
          if (codes.includes(ErrorCode.UNAUTHENTICATED)) {
            response.http.status = 401;
            response.http.headers.set("www-authenticate", wwwAuthenticate(false));
          } else if (
            data === undefined &&
            codes.length > 0 &&
            codes.every((c) => isClientError(c) && c !== ErrorCode.RATE_LIMITED) &&
            (response.http.status ?? 500) >= 500
          ) {
            response.http.status = 400;
          }
        },
      };
    },
  };
}

/**
 * Partners depend on introspection, so every authenticated role may introspect; in production an
 * anonymous request may not (it learns nothing about the API before it has a token).
 */
function introspectionForAuthenticated(production: boolean): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, contextValue }) {
          if (!production || contextValue.principal) return;
          let introspects = false;
          visit(document, {
            Field(node) {
              if (node.name.value === "__schema" || node.name.value === "__type") introspects = true;
            },
          });
          if (introspects) throw new UnauthenticatedError("Introspection needs a valid bearer token.");
        },
      };
    },
  };
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export async function startServer(deps: ServerDeps): Promise<CustodianServer> {
  const { config, topology, log } = deps;
  const app = express();
  app.disable("x-powered-by");
  const http = createServer(app);

  const limits = armor();
  const apollo = new ApolloServer<RequestContext>({
    // The schema, executed by graphql-jit; Apollo still parses, validates and shapes errors.
    gateway: compiledExecution(deps.schema),
    csrfPrevention: true,
    introspection: true,
    allowBatchedHttpRequests: false,
    validationRules: limits.validationRules,
    parseOptions: limits.parseOptions,
    // main.ts owns shutdown: drain, then the pool, then the embedded server.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    formatError: (formatted, error) => formatError(formatted, error, { debug: config.debugErrors, production: config.production }),
    plugins: [
      // Past the drain timeout, open connections are cut: a stop never hangs on a slow client.
      ApolloServerPluginDrainHttpServer({ httpServer: http, stopGracePeriodMillis: config.shutdownTimeoutMs ?? 10_000 }),
      errorLogging(log),
      operationMetrics<RequestContext>(),
      ...(limits.plugins as ApolloServerPlugin<RequestContext>[]),
      // Apollo starts these checks side by side; their count is bounded before either runs (countVariables).
      variableLimits() as ApolloServerPlugin<RequestContext>,
      costLimit(deps.schema) as ApolloServerPlugin<RequestContext>,
      introspectionForAuthenticated(config.production),
      sessionClosing(),
      httpStatusOfRefusals(),
      // Answers are per caller and never cached; the cache-control plugin would wrap every field.
      ApolloServerPluginCacheControlDisabled(),
      // The explorer, when on, is Custodian's own page (explorer.ts): Apollo's would load from its CDN.
      ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  // A request that arrives on a connection the shutdown has already closed for writing (it was
  // idle when the drain began) can never be answered, so it is not run: it would be processed and
  // its client told nothing. Its client sees the connection close and retries elsewhere.
  app.use((req, _res, next) => {
    if (req.socket.writableEnded || req.socket.destroyed) {
      req.socket.destroy();
      return;
    }
    next();
  });

  app.use(
    pinoHttp({
      logger: log,
      genReqId: (req, res) => {
        const incoming = req.headers["x-request-id"];
        const id = typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader("x-request-id", id);
        return id;
      },
      // The path only: a GET query string can carry variables, and variables personal data.
      serializers: { req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split("?")[0] }) },
    }),
  );

  // Alive while the process can serve: not merely while it runs.
  app.get("/healthz", (_req, res) => {
    const alive = deps.alive?.() ?? true;
    res.status(alive ? 200 : 503).json({ status: alive ? "ok" : "dead" });
  });
  // For a scraper with METRICS_TOKEN; absent without it.
  if (config.metricsToken) app.get("/metrics", metricsEndpoint(config.metricsToken));
  watchPools(() => topology.all.map((database) => ({ database: database.name, pool: poolOf(database.app) })));

  // Ready while control answers: every request needs it. A region, or a region's key store, that
  // does not answer is its tenants' outage (of their sealed data, for a key store), not the
  // process's: reported by name, with the status still 200.
  app.get("/readyz", async (_req, res) => {
    const { databases, keyStores } = await databaseStatus(topology);
    const ready = databases.control === "ok";
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", databases, keyStores });
  });

  const tokens = new TokenVerifier({
    secret: config.jwtSecret,
    publicKey: config.jwtPublicKey,
    jwks: config.jwtJwks ? remoteKeySet(config.jwtJwks.url, config.jwtJwks) : null,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    claims: config.jwtClaims,
  });
  const limiter = config.rateLimitPerMinute ? new RequestRateLimiter(config.rateLimitPerMinute) : null;

  // Who calls, and whether they may call now, is known before the body is read: a refused token or
  // an exhausted rate limit costs no parsing, and a caller without a token may send only a small body.
  const authenticate: RequestHandler = async (req, res, next) => {
    try {
      const principal = await tokens.principalOf(req.headers.authorization);
      await limiter?.consume(RequestRateLimiter.keyOf(principal, req.ip));
      res.locals.principal = principal;
      next();
    } catch (error) {
      // The error's own status and headers go out with it (sendGraphQLError).
      if (error instanceof UnauthenticatedError) res.setHeader("www-authenticate", wwwAuthenticate(true));
      else if (error instanceof RateLimitedError) rateLimitRefusals.inc({ limit: "requests" });
      else if (!(error instanceof IdentityProviderUnavailableError)) return next(error);
      sendGraphQLError(res, error);
    }
  };
  const parseAuthenticated = express.json({ limit: config.bodyLimitBytes });
  const parseAnonymous = express.json({ limit: Math.min(config.bodyLimitBytes, ANONYMOUS_BODY_LIMIT_BYTES) });
  const parseBody: RequestHandler = (req, res, next) => (res.locals.principal ? parseAuthenticated : parseAnonymous)(req, res, next);
  // Counted once, as soon as the body is parsed: Apollo starts every plugin's check at once, and
  // each would otherwise walk all of a body's keys (450,000 of them cost a second each).
  const countVariables: RequestHandler = (req, res, next) => {
    const variables = (req.body as { variables?: unknown } | undefined)?.variables;
    if (variables !== null && typeof variables === "object" && hasMoreKeysThan(variables, VARIABLE_LIMITS.count)) {
      return sendError(res, 400, ErrorCode.BAD_USER_INPUT, TOO_MANY_VARIABLES, { field: "variables" });
    }
    next();
  };

  const graphql = expressMiddleware(apollo, {
    context: async ({ req, res }) => {
      const ctx = await createRequestContext(deps, (res.locals.principal as RequestContext["principal"]) ?? null, String(req.id));
      res.locals.context = ctx;
      return ctx;
    },
  });
  // The request's session closes when Apollo has finished with it (sessionClosing, before the
  // response is sent), never while an operation still runs: a client that goes away
  // mid-mutation changes nothing about what is committed. This is the backstop for answers that
  // never reached that hook.
  const execute: RequestHandler = async (req, res, next) => {
    try {
      await graphql(req, res, next);
    } catch (error) {
      next(error);
    } finally {
      const ctx = res.locals.context as RequestContext | undefined;
      await ctx?.unit.close().catch((error: unknown) => ctx.log.error({ error: loggableError(error) }, "closing the request session failed"));
    }
  };
  // Before the body is read: a process near its memory limit takes on no new work (requests in
  // flight finish), and says so, retryable, instead of risking every request it holds.
  const memoryLimit = config.memoryLimitBytes ?? defaultMemoryLimitBytes();
  const guardMemory: RequestHandler = (_req, res, next) => {
    if (!memoryExhausted(currentMemory(), memoryLimit)) return next();
    log.warn("memory near its limit: a request was refused");
    res.setHeader("retry-after", "5");
    sendError(res, 503, ErrorCode.RATE_LIMITED, "The service is busy: retry in a few seconds.", { retryAfterSeconds: 5 });
  };
  if (config.explorer) {
    const { page, assets } = explorer("/graphql");
    app.use(assets);
    app.get("/graphql", page);
  }
  app.use("/graphql", authenticate, guardMemory, parseBody, countVariables, execute);
  app.use(notFoundAsJson());
  app.use(errorsAsJson(log));

  await new Promise<void>((ok, fail) => {
    http.once("error", fail);
    http.listen(config.port, config.host, () => ok());
  });
  // Subscriptions, on the same path over graphql-ws, fed from committed events.
  let subscriptions: { dispose(): Promise<void> } | null = null;
  let hub: EventHub | null = null;
  let unwatch: () => void = () => undefined;
  if (deps.feed) {
    const events = (hub = new EventHub(topology, deps.feed, log));
    events.start();
    unwatch = watchSubscriptions(() => events.subscribers);
    subscriptions = subscriptionServer({
      http,
      path: "/graphql",
      schema: deps.schema,
      tokens,
      limiter,
      validationRules: limits.validationRules,
      log,
      contextOf: (principal): EventSubscriptionContext => ({ subscribeEvents: (types) => events.subscribe(principal, types) }),
    });
  }

  const { port } = http.address() as AddressInfo;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return {
    url: `http://${host}:${port}/graphql`,
    apollo,
    http,
    async stop() {
      // Sockets first (they close with 1001 Going Away and free their subscriptions), then the HTTP drain.
      hub?.stop();
      unwatch();
      await subscriptions?.dispose();
      await apollo.stop();
    },
  };
}

type Status = "ok" | "unavailable";

/**
 * Each database by name: "ok" when it answers a trivial statement within two seconds,
 * "unavailable" otherwise; the regions' and control's, and each region's key store.
 */
async function databaseStatus(topology: Topology): Promise<{ databases: Record<string, Status>; keyStores: Record<string, Status> }> {
  const answers = (db: DataSource) =>
    Promise.race([db.query("SELECT 1"), new Promise((_, fail) => setTimeout(() => fail(new Error("timeout")), 2000).unref())]).then(
      (): Status => "ok",
      (): Status => "unavailable",
    );
  const checked = await topology.each(async (database) => {
    const [data, keys] = await Promise.all([answers(database.app), database.keystore ? answers(database.keystore) : null]);
    return { data, keys };
  });
  const databases: Record<string, Status> = {};
  const keyStores: Record<string, Status> = {};
  for (const { name, outcome } of checked) {
    databases[name] = outcome.status === "fulfilled" ? outcome.value.data : "unavailable";
    // A region that cannot be opened has no key store to ask; one that opened and has none is control.
    if (outcome.status === "rejected") {
      if (name !== CONTROL) keyStores[name] = "unavailable";
    } else if (outcome.value.keys) keyStores[name] = outcome.value.keys;
  }
  return { databases, keyStores };
}

/** The pg pool under a TypeORM data source (its driver's master pool), for the pool gauges. */
function poolOf(db: DataSource): PoolCounts | undefined {
  return (db.driver as unknown as { master?: PoolCounts }).master;
}
