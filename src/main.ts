// First: tracing patches http and pg as they load (off unless OTEL_* configures it).
import { tracing } from "./tracing-start";
import "reflect-metadata";
import { openDatabases } from "./databases";
import { ConfigError, loadConfig } from "./config";
import { developmentTokens, seedDemoIfEmpty } from "./demo";
import { KeyRing } from "./modules/keys/key-ring";
import { keystoreSettings, masterKeyProvider } from "./modules/keys/key-config";
import { sealExisting } from "./sealing";
import { AuditService } from "./modules/audit/audit.service";
import { RetentionScheduler } from "./modules/retention/retention.scheduler";
import { TopologyRetention } from "./modules/retention/topology-retention";
import { createSchema } from "./schema";
import { EventFeed } from "./modules/events/event-feed";
import { systemResolve } from "./modules/events/webhook-transport";
import { sealWebhookSecrets } from "./modules/events/webhook-secrets";
import { WebhookWorker } from "./modules/events/webhook-worker";
import { startServer } from "./server";
import { SettableClock, systemClock } from "./shared/clock";
import { startEmbeddedPostgres, type EmbeddedServer } from "./shared/db/embedded";
import { createLogger, loggableError } from "./shared/logging";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  if (config.jwtSecretIsDefault) log.warn("JWT_SECRET is not set: using the development default. Never run like this in production.");

  // Undone in reverse order on shutdown: retention schedule, HTTP server (draining), webhook delivery, event feed, pool, embedded server.
  const cleanup: Array<{ step: string; run: () => Promise<void> }> = [];
  let cleaningUp = false;
  const runCleanup = async () => {
    cleaningUp = true;
    for (const { step, run } of cleanup.reverse()) {
      log.debug({ step }, "stopping");
      await run().catch((e) => log.error({ error: loggableError(e), step }, "shutdown step failed"));
    }
  };

  try {
    let url = config.databaseUrl;
    let embedded: EmbeddedServer | undefined;
    if (!url) {
      embedded = await startEmbeddedPostgres({ dataDir: config.embeddedDataDir, database: "custodian", log, restartOnExit: true });
      cleanup.push({ step: "embedded PostgreSQL", run: () => embedded!.stop() });
      url = embedded.url;
      log.info({ dataDir: config.embeddedDataDir }, "embedded PostgreSQL started");
    }

    // Control and one database per storage location, each migrated under its own lock.
    // A pool's connections may still be closing when the embedded server stops (fifteen pools
    // over five databases): expected during shutdown, worth a warning at any other time.
    const onPoolError = (e: Error) => (cleaningUp ? log.debug : log.warn).call(log, { error: loggableError(e) }, "an idle database connection failed");
    const testClock = config.testClock ? new SettableClock() : undefined;
    const clock = testClock ?? systemClock;
    if (config.production && config.keystoreSameServerUnsafe) {
      log.warn(
        "KEYSTORE_SAME_SERVER_UNSAFE is set: key stores may share the data's server and backups, and shredding does not reach those. Never with real data.",
      );
    }
    const keys = new KeyRing(await masterKeyProvider(config, log), { openedBytes: config.openedValuesBytes });
    const topology = await openDatabases({
      controlUrl: url,
      regionUrls: config.regionDatabaseUrls,
      keystore: keystoreSettings(config),
      appUrl: config.appDatabaseUrl,
      pool: { onPoolError },
      log,
      now: clock.now(),
    });
    cleanup.push({ step: "database pools", run: () => topology.close() });
    log.info({ databases: topology.all.map((d) => d.name) }, "databases ready");
    if (!config.production && (await seedDemoIfEmpty(topology, clock, keys))) log.info("demo data seeded (two tenants)");

    // Webhook signing secrets from before they were sealed, or sealed under an older master key: a few rows per database.
    const resealed = await sealWebhookSecrets(topology.all, keys, log);
    if (Object.values(resealed).some((n) => n > 0)) log.info({ sealed: resealed }, "webhook signing secrets sealed under the current master key");
    const webhookRules = { resolve: systemResolve, allowPrivate: config.webhookAllowPrivate };
    if (config.webhookAllowPrivate) log.warn("WEBHOOK_ALLOW_PRIVATE_NETWORKS is set: webhook receivers on loopback and private networks are allowed.");
    const schema = await createSchema({ testClock, auditSigner: config.auditSigner, webhooks: { rules: webhookRules, httpsOnly: config.production }, keys });
    // Committed events from every database: the webhook dispatcher's wake-up and the subscriptions' source.
    const feed = new EventFeed(topology, log);
    await feed.start();
    cleanup.push({ step: "event feed", run: () => feed.stop() });
    // Before the server listens: once it answers /readyz, everything it runs has started.
    if (config.webhookDelivery) {
      const webhooks = new WebhookWorker(topology, clock, feed, log, { rules: webhookRules, leaseMs: config.webhookLeaseMs, keys });
      await webhooks.start();
      cleanup.push({ step: "webhook delivery", run: () => webhooks.stop() });
    }
    const server = await startServer({ config, topology, clock, log, schema, feed, alive: () => embedded?.alive() ?? true });
    cleanup.push({ step: "HTTP server", run: () => server.stop() });
    // Personal data written before sealing existed is sealed in the background, batch by batch
    // (resumable: a stop ends it after the running batch; `npm run seal` does it by hand).
    const stopSealing = new AbortController();
    const sealing = sealExisting(topology, keys, () => clock.now(), { log, signal: stopSealing.signal }).then(
      (run) => {
        const sealed = Object.values(run.sealed).reduce((n, s) => n + s.values + s.subjects + s.requestReasons, 0);
        if (sealed) log.info({ sealed: run.sealed, plaintextLeft: run.plaintextLeft }, "personal data written before sealing was sealed");
      },
      (error: unknown) => log.error({ error: loggableError(error) }, "sealing existing personal data failed: the next start resumes it"),
    );
    cleanup.push({ step: "sealing", run: () => (stopSealing.abort(), sealing) });
    if (config.retentionIntervalMs !== null) {
      const scheduler = new RetentionScheduler(
        topology,
        new TopologyRetention(topology, clock, new AuditService(), config.auditSigner, keys),
        log,
        config.retentionIntervalMs,
      );
      scheduler.start();
      cleanup.push({ step: "retention schedule", run: () => scheduler.stop() });
    }

    // Last of all on shutdown: the spans of the drained requests are sent.
    const spans = tracing;
    if (spans) cleanup.unshift({ step: "tracing", run: () => spans.shutdown() });
    log.info({ url: server.url }, "Custodian is ready");
    if (!config.production && !config.jwtPublicKey && !config.jwtJwks) {
      const tokens = await developmentTokens(topology, { secret: config.jwtSecret, issuer: config.jwtIssuer, audience: config.jwtAudience });
      const lines = tokens.map((t) => `  ${t.role.padEnd(13)} ${t.token}`);
      process.stdout.write(
        `\nCustodian GraphQL API: ${server.url}\n\nDevelopment tokens (24 h, tenant roles for tenant ${tokens.find((t) => t.tenantId)?.tenantId ?? "-"}):\n${lines.join("\n")}\n\n` +
          `Try: curl -s ${server.url} -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d '{"query":"{ viewer { role tenantId } }"}'\n\n`,
      );
    }
  } catch (error) {
    log.fatal({ error: loggableError(error) }, "Custodian could not start");
    await runCleanup();
    process.exit(1);
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "draining in-flight requests, then stopping");
    void runCleanup().then(() => {
      log.info("stopped");
      process.exit(0);
    });
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

void main();
