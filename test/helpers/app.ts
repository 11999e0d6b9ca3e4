import { createHash, randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import type { DataSource } from "typeorm";
import { openDatabases } from "../../src/databases";
import type { Database, Topology } from "../../src/shared/db/topology";
import { AuditSigner } from "../../src/modules/audit/audit-signer";
import { GraphQLError } from "graphql";
import { createRequestContext, type RequestContext } from "../../src/context";
import { formatError } from "../../src/shared/graphql/format-error";
import { createSchema } from "../../src/schema";
import { startServer, type CustodianServer } from "../../src/server";
import type { Principal } from "../../src/shared/auth/principal";
import { Role } from "../../src/shared/auth/role";
import { signToken } from "../../src/shared/auth/jwt";
import { SettableClock } from "../../src/shared/clock";
import { createLogger } from "../../src/shared/logging";
import type { WebhookSettings } from "../../src/modules/events/webhooks.service";
import { EventFeed } from "../../src/modules/events/event-feed";
import { suiteDatabaseUrl } from "./suite-db";
import { LocalKeyProvider } from "../../src/modules/keys/envelope";
import { KeyRing } from "../../src/modules/keys/key-ring";
import type { KeystoreSettings } from "../../src/modules/keys/key-config";

export const TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789";
/** Every test process signs audit checkpoints with the same key, so each can check the others'. */
export const TEST_AUDIT_SIGNER = AuditSigner.development(TEST_SECRET);
/** Every test process seals with the same master key, so each can open what another sealed. */
export const TEST_MASTER_KEY = createHash("sha256").update("custodian test master key").digest();
/**
 * A key ring of its own (its own cache) over the test master key. Its cache is smaller than the
 * service's: a test makes a few thousand keys, and each of the suite's processes makes key rings.
 */
export const testKeyRing = () => new KeyRing(new LocalKeyProvider(TEST_MASTER_KEY), { maxKeys: 20_000 });

export interface GqlError {
  message: string;
  path?: string[];
  extensions: { code: string; field?: string; [key: string]: unknown };
}
export interface GqlResult<T = Record<string, any>> {
  data?: T | null;
  errors?: GqlError[];
}

export interface Caller {
  principal: Principal | null;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>>;
}

/**
 * How long the suite's apps wait for a new connection: CI's lanes keep both cores busy, and one
 * app's start opening its pools once waited more than the service's 3 s for a backend of the
 * system server (the tests of an unavailable database stop its server, which refuses at once).
 */
export const TEST_CONNECT_TIMEOUT_MS = 20_000;

/** Where the suite's tenants live unless a test names another location (the factories' default). */
export const DEFAULT_LOCATION = "EU";

export interface TestApp {
  topology: Topology;
  /** The default region's (EU's) owner connection, for assertions and tampering: it sees every row there. */
  db: DataSource;
  /** Control's owner connection: the tenant directory, reference data, incidents, the operators' audit chain. */
  controlDb: DataSource;
  /** The default region's request pool (the application role, under row-level security). */
  appDb: DataSource;
  /** The default region's maintenance pool (custodian_maintenance): retention and the audit purge run on it. */
  maintenance: DataSource;
  /** A region's database (the default region's when no code is given). */
  region(code?: string): Database;
  clock: SettableClock;
  /** The key ring the app seals with (the test master key). */
  keys: KeyRing;
  server: CustodianServer;
  /** Every log line the app wrote, for tests that check what never reaches a log. */
  logs: string[];
  /** Request contexts opened by requestContext: app.close() closes any session still open. */
  contexts: RequestContext[];
  as(principal: Principal | null): Caller;
  token(principal: Principal): Promise<string>;
  close(): Promise<void>;
}

/**
 * The app as it runs, on the suite's database (DATABASE_URL, set by the test runner), with a
 * settable clock and an HTTP listener on a free port. `as(...)` runs operations in-process.
 */
export async function startTestApp(
  options: {
    databaseUrl?: string;
    /** Region databases by location code (STORAGE_LOCATION_DATABASES); by default each is `<control>_<code>` beside control. */
    regionUrls?: Record<string, string>;
    poolSize?: number;
    production?: boolean;
    config?: Partial<Parameters<typeof startServer>[0]["config"]>;
    /** Which webhook receivers may be registered (a test's resolver and rules). */
    webhooks?: WebhookSettings;
    /** Serve GraphQL subscriptions (an event feed listening on every database). */
    subscriptions?: boolean;
    /** Where the regions' key stores are (default: beside each region's database). */
    keystore?: KeystoreSettings;
    /** The key ring to seal with (default: one of its own over the test master key). */
    keys?: KeyRing;
  } = {},
): Promise<TestApp> {
  const url = options.databaseUrl ?? (await suiteDatabaseUrl());
  const logs: string[] = [];
  const log = createLogger("debug", new Writable({ write: (chunk, _enc, done) => (logs.push(String(chunk)), done()) }));
  const clock = new SettableClock();
  const keys = options.keys ?? testKeyRing();
  // The schema is built while the databases open (one is CPU, the other mostly waiting).
  const [topology, schema] = await Promise.all([
    openDatabases({
      controlUrl: url,
      regionUrls: options.regionUrls,
      keystore: options.keystore,
      pool: { poolSize: options.poolSize ?? 5, connectTimeoutMs: TEST_CONNECT_TIMEOUT_MS },
      log,
      now: clock.now(),
    }),
    createSchema({ testClock: clock, auditSigner: TEST_AUDIT_SIGNER, webhooks: options.webhooks, keys }),
  ]);
  const region = (code = DEFAULT_LOCATION) => {
    const database = topology.database(code);
    if (!database) throw new Error(`no region database for ${code}`);
    return database;
  };
  const { owner: db, app: appDb, maintenance } = region();
  const contexts: RequestContext[] = [];
  const config = {
    port: 0,
    host: "127.0.0.1",
    jwtSecret: TEST_SECRET,
    debugErrors: false,
    bodyLimitBytes: 64 * 1024,
    production: options.production ?? false,
    // As loadConfig has it: the explorer is on outside production.
    explorer: !(options.production ?? false),
    ...options.config,
  };
  const feed = options.subscriptions ? new EventFeed(topology, log) : undefined;
  await feed?.start();
  const server = await startServer({ config, topology, clock, log, schema, feed });

  const as = (principal: Principal | null): Caller => ({
    principal,
    async gql(query, variables) {
      let contextValue;
      try {
        contextValue = await createRequestContext({ topology, clock, log }, principal, randomUUID());
      } catch (error) {
        // What Apollo answers over HTTP when the context cannot be made (e.g. the database is down).
        const graphqlError = error instanceof GraphQLError ? error : new GraphQLError(String((error as Error).message), { originalError: error as Error });
        return JSON.parse(JSON.stringify({ errors: [formatError(graphqlError.toJSON(), error, { debug: false })] }));
      }
      const response = await server.apollo.executeOperation({ query, variables }, { contextValue });
      if (response.body.kind !== "single") throw new Error("incremental delivery is not used");
      // GraphQL results are null-prototype objects: make them plain for deepStrictEqual.
      return JSON.parse(JSON.stringify(response.body.singleResult));
    },
  });

  return {
    topology,
    db,
    controlDb: topology.control.owner,
    appDb,
    maintenance,
    region,
    contexts,
    clock,
    keys,
    server,
    logs,
    as,
    token: (p) => signToken({ subject: p.subject, role: p.role, tenantId: p.tenantId ?? undefined, dataSubjectId: p.dataSubjectId ?? undefined }, TEST_SECRET),
    async close() {
      for (const ctx of contexts) await ctx.unit.close().catch(() => undefined);
      await server.stop();
      await feed?.stop();
      await topology.close();
    },
  };
}

/**
 * A request's context for `principal`, as the server makes one, outside any HTTP request (for
 * raw SQL in a request's session). Close its session when the test needs the connection back;
 * app.close() closes what is left open.
 */
export async function requestContext(app: TestApp, principal: Principal | null): Promise<RequestContext> {
  const ctx = await createRequestContext({ topology: app.topology, clock: app.clock, log: createLogger("silent") }, principal, randomUUID());
  app.contexts.push(ctx);
  return ctx;
}

export const principals = {
  operator: (): Principal => ({ subject: "test-operator", role: Role.OPERATOR, tenantId: null, dataSubjectId: null }),
  partner: (): Principal => ({ subject: "test-partner", role: Role.PARTNER, tenantId: null, dataSubjectId: null }),
  tenantAdmin: (tenantId: string): Principal => ({ subject: "test-admin", role: Role.TENANT_ADMIN, tenantId, dataSubjectId: null }),
  integration: (tenantId: string): Principal => ({ subject: "test-integration", role: Role.INTEGRATION, tenantId, dataSubjectId: null }),
  auditor: (tenantId: string): Principal => ({ subject: "test-auditor", role: Role.AUDITOR, tenantId, dataSubjectId: null }),
  subject: (tenantId: string, dataSubjectId: string): Principal => ({ subject: "test-subject", role: Role.DATA_SUBJECT, tenantId, dataSubjectId }),
};

/** Role helpers that read like the rule a test checks. */
export function roles(app: TestApp) {
  return {
    asOperator: () => app.as(principals.operator()),
    asPartner: () => app.as(principals.partner()),
    asTenantAdmin: (t: string) => app.as(principals.tenantAdmin(t)),
    asIntegration: (t: string) => app.as(principals.integration(t)),
    asAuditor: (t: string) => app.as(principals.auditor(t)),
    asSubject: (t: string, s: string) => app.as(principals.subject(t, s)),
    anonymous: () => app.as(null),
  };
}

/** Every role but the given ones, as principals of the tenant where the role needs one. */
export function otherRoles(tenantId: string, allowed: Role[]): Principal[] {
  const all = [
    principals.operator(),
    principals.partner(),
    principals.tenantAdmin(tenantId),
    principals.integration(tenantId),
    principals.auditor(tenantId),
    principals.subject(tenantId, randomUUID()),
  ];
  return all.filter((p) => !allowed.includes(p.role));
}
