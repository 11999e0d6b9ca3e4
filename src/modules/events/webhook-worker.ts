import { Logger as WorkerLogger, run, runMigrations, type Runner, type Task } from "graphile-worker";
import { Pool } from "pg";
import type { Clock } from "../../shared/clock";
import type { Database, Topology } from "../../shared/db/topology";
import { loggableError, type Logger } from "../../shared/logging";
import { watchWebhooks, webhookAttempts, webhookFailures, webhookLag } from "../../shared/metrics";
import { wireName } from "./event-type";
import type { EventFeed } from "./event-feed";
import { afterAttempt, ATTEMPT_TIMEOUT_MS, deliveryBody, disableReason, signature, signingSecrets } from "./webhook-policy";
import { attemptDelivery, deliveryAgents, type AddressRules, type DeliveryAgents } from "./webhook-transport";
import { claimDue, deliveryBacklog, disableEndpoint, leasedDelivery, recordAttempt } from "./webhooks.store";

/** The queue's task that makes one attempt of one delivery. */
const ATTEMPT_TASK = "webhook_attempt";
/** The queue's connections per instance: graphile-worker's LISTEN, job fetches and completions, the dispatcher's hand-overs. */
const QUEUE_CONNECTIONS = 6;
/** What must be left of a lease when its job starts: a whole attempt and its record. */
const LEASE_MARGIN_MS = ATTEMPT_TIMEOUT_MS + 2_000;
/** Serialises graphile-worker's own migrations across instances starting together. */
const QUEUE_MIGRATION_LOCK = 7_310_023;

/** What a job carries: where the delivery is and the lease it was handed with (ids only, no data). */
interface AttemptJob {
  database: string;
  delivery: string;
  token: string;
}

export interface WebhookWorkerOptions {
  rules: AddressRules;
  /** Attempts in flight at once per instance. */
  concurrency?: number;
  /** How often due deliveries are looked for without a notification (retries come due by the clock). */
  pollMs?: number;
  /** How long a hand-over holds a delivery (wall clock): an instance that dies mid-attempt frees it after this. */
  leaseMs?: number;
}

/**
 * Installs or updates graphile-worker's own schema (graphile_worker) in the database `pool`
 * reaches, under a lock: instances starting together migrate it once.
 */
export async function migrateQueue(pool: Pool, logger = new WorkerLogger(() => () => undefined)): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [QUEUE_MIGRATION_LOCK]);
    try {
      await runMigrations({ pgPool: pool, logger });
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [QUEUE_MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/**
 * Webhook delivery (DOMAIN rules 35-38). Each delivery's next attempt time is in our table, on
 * the service clock; a dispatcher (every instance, every database) leases the due ones with
 * SKIP LOCKED and hands each to graphile-worker, a PostgreSQL-backed queue in control, as a job
 * carrying the lease's token. The job attempts only while that lease is its own, then logs the
 * attempt and the next time in the same statement that releases the lease. An instance that
 * dies mid-attempt leaves a lease that runs out, and the next dispatch hands the delivery again:
 * at least once, one worker at a time.
 */
export class WebhookWorker {
  private runner: Runner | null = null;
  private pool: Pool | null = null;
  private timer: NodeJS.Timeout | null = null;
  private dispatching: Promise<void> | null = null;
  private pendingAll = false;
  private readonly pendingDatabases = new Set<string>();
  private unlisten: (() => void) | null = null;
  private readonly concurrency: number;
  private readonly agents: DeliveryAgents;
  private readonly pollMs: number;
  private readonly leaseMs: number;

  constructor(
    private readonly topology: Topology,
    private readonly clock: Clock,
    private readonly feed: EventFeed,
    private readonly log: Logger,
    private readonly options: WebhookWorkerOptions,
  ) {
    // Attempts mostly wait on receivers: many at once per instance.
    this.concurrency = options.concurrency ?? 32;
    this.agents = deliveryAgents(options.rules);
    this.pollMs = options.pollMs ?? 1000;
    this.leaseMs = Math.max(options.leaseMs ?? 60_000, LEASE_MARGIN_MS + 3_000);
  }

  async start(): Promise<void> {
    // Jobs hold a connection only to fetch and complete themselves (attempts wait on receivers,
    // not on PostgreSQL): a few connections serve many attempts, and instances stay within the
    // server's connection limit.
    this.pool = new Pool({ connectionString: this.topology.control.url, max: QUEUE_CONNECTIONS });
    this.pool.on("error", (error) => this.log.warn({ error: loggableError(error) }, "an idle queue connection failed"));
    // A connection that fails while checked out (the server died) fails its query; its own
    // 'error' event must not take the process down. graphile-worker guards only the connections
    // it opened itself, not those its migrations left in the pool.
    this.pool.on("connect", (client) => client.on("error", () => undefined));
    const logger = new WorkerLogger(() => (level, message) => {
      if (level === "error" || level === "warning") this.log.warn({ queue: message }, "webhook queue");
    });
    await migrateQueue(this.pool, logger);
    const attempt: Task = (payload) => this.attempt(payload as AttemptJob);
    this.runner = await run({
      pgPool: this.pool,
      concurrency: this.concurrency,
      noHandleSignals: true,
      pollInterval: this.pollMs,
      logger,
      taskList: { [ATTEMPT_TASK]: attempt },
    });
    this.unlisten = this.feed.on((database) => this.wake(database));
    this.timer = setInterval(() => this.wake(), this.pollMs);
    this.timer.unref();
    watchWebhooks(() => this.backlog());
    this.wake();
  }

  /**
   * Dispatches now (or right after the dispatch in progress): the database that announced an
   * event, or every database (the clock's tick, which finds retries come due). Wakes during a
   * dispatch are gathered into the next one.
   */
  wake(database?: string): void {
    if (database) this.pendingDatabases.add(database);
    else this.pendingAll = true;
    if (this.dispatching) return;
    const names = this.pendingAll ? null : new Set(this.pendingDatabases);
    this.pendingAll = false;
    this.pendingDatabases.clear();
    this.dispatching = this.dispatchAll(names)
      .catch((error: unknown) => this.log.warn({ error: loggableError(error) }, "webhook dispatch failed; the next tick retries"))
      .finally(() => {
        this.dispatching = null;
        if (!this.runner) return;
        if (this.pendingAll) this.wake();
        else if (this.pendingDatabases.size) this.wake([...this.pendingDatabases][0]);
      });
  }

  /** Hands every due delivery of every open database (or of those named) to the queue; resolves when done. */
  async dispatchAll(names: ReadonlySet<string> | null = null): Promise<void> {
    await Promise.all(
      this.topology.all
        .filter((db) => !names || names.has(db.name))
        .map((db) =>
          this.dispatch(db).catch((error: unknown) =>
            this.log.debug({ database: db.name, error: loggableError(error) }, "webhook dispatch skipped a database"),
          ),
        ),
    );
  }

  private async dispatch(db: Database): Promise<void> {
    const batch = 100;
    for (;;) {
      const claimed = await claimDue(db.maintenance.manager, this.clock.now(), batch, this.leaseMs);
      if (!claimed.length || !this.pool) return;
      const jobs: AttemptJob[] = claimed.map((c) => ({ database: db.name, delivery: c.id, token: c.token }));
      // A crash between the lease and this leaves a lease that runs out: the delivery is handed again.
      await this.pool.query(`SELECT graphile_worker.add_job($2, j, job_key := j->>'delivery', max_attempts := 1) FROM json_array_elements($1::json) j`, [
        JSON.stringify(jobs),
        ATTEMPT_TASK,
      ]);
      if (claimed.length < batch) return;
    }
  }

  /** One attempt of a leased delivery; never throws (a job that failed would stay in the queue). */
  private async attempt(job: AttemptJob): Promise<void> {
    try {
      const db = this.topology.database(job.database);
      if (!db) return;
      // Enough of the lease must be left for a whole attempt (ten seconds) and its record.
      const leased = await leasedDelivery(db.maintenance.manager, job.delivery, job.token, LEASE_MARGIN_MS);
      if (!leased || !leased.enabled) return;
      const at = this.clock.now();
      const body = deliveryBody({
        id: leased.eventId,
        wireType: wireName(leased.type),
        occurredAt: leased.occurredAt,
        tenantId: leased.tenantId,
        data: leased.data,
      });
      // The wall-clock second of this attempt, so receivers' five-minute tolerance holds under a moved test clock.
      const timestamp = Math.floor(Date.now() / 1000);
      const headers = {
        "webhook-id": leased.eventId,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signature(signingSecrets(leased, at), leased.eventId, timestamp, body),
      };
      const outcome = await attemptDelivery({ url: leased.url, headers, body }, this.options.rules, this.agents);
      const next = afterAttempt(outcome, leased.scheduledAttempts + 1, at);
      const recorded = await db.maintenance.transaction(async (manager) => {
        const mine = await recordAttempt(manager, { id: leased.id, token: job.token }, { at, outcome, ...next });
        const reason = mine && disableReason(outcome, leased.failingSince, at);
        if (reason) await disableEndpoint(manager, leased.endpointId, reason, at);
        return mine;
      });
      if (!recorded) return;
      webhookAttempts.inc({ outcome: outcome.error ?? "ok" });
      if (next.status === "FAILED") webhookFailures.inc();
      if (outcome.error === null && leased.scheduledAttempts === 0)
        webhookLag.observe(Math.max(0, this.clock.now().getTime() - new Date(leased.occurredAt).getTime()) / 1000);
    } catch (error) {
      this.log.warn(
        { database: job.database, error: loggableError(error) },
        "a webhook attempt could not be made or recorded; its lease runs out and it is handed again",
      );
    }
  }

  private async backlog() {
    const now = this.clock.now();
    const rows = await Promise.all(this.topology.all.map(async (db) => ({ database: db.name, ...(await deliveryBacklog(db.maintenance.manager, now)) })));
    return rows;
  }

  /** Stops dispatching, lets attempts in flight finish, and closes the queue's connections. */
  async stop(): Promise<void> {
    this.unlisten?.();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const runner = this.runner;
    this.runner = null;
    await this.dispatching;
    await runner?.stop();
    this.agents.http.destroy();
    this.agents.https.destroy();
    await this.pool?.end().catch(() => undefined);
    this.pool = null;
  }
}
