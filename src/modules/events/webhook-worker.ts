import { Logger as WorkerLogger, run, runMigrations, type Runner, type Task } from "graphile-worker";
import { Pool } from "pg";
import type { EntityManager } from "typeorm";
import type { Clock } from "../../shared/clock";
import type { Database, Topology } from "../../shared/db/topology";
import { loggableError, type Logger } from "../../shared/logging";
import { watchWebhooks, webhookAttempts, webhookFailures, webhookLag } from "../../shared/metrics";
import { wireName } from "./event-type";
import type { EventFeed } from "./event-feed";
import {
  afterAttempt,
  ATTEMPT_TIMEOUT_MS,
  deliveryBody,
  endpointVerdicts,
  gatheringMs,
  signature,
  signingSecrets,
  type AttemptOutcome,
} from "./webhook-policy";
import { attemptDelivery, deliveryAgents, type AddressRules, type DeliveryAgents } from "./webhook-transport";
import { openSecret } from "./webhook-secrets";
import type { KeyRing } from "../keys/key-ring";
import { IntegrityError } from "../keys/envelope";
import {
  claimDue,
  deliveryBacklog,
  disableEndpoint,
  dropPreviousSecret,
  failLeasedToDisabled,
  leasedDeliveries,
  recordAttempts,
  type LeasedDelivery,
} from "./webhooks.store";

/** Why an endpoint whose signing secret failed authentication was disabled. */
export const TAMPERED_SECRET = "Its signing secret failed authentication (tampered with): rotate the secret, then enable the endpoint.";

/** An endpoint's secrets, opened (base64), as signingSecrets takes them. */
interface EndpointSecrets {
  secret: string;
  previousSecret: string | null;
  previousSecretUntil: Date | null;
}

/** The queue's task that makes one attempt of each delivery of a batch. */
const ATTEMPTS_TASK = "webhook_attempts";
/** The task an earlier version queued, one delivery per job: still run if such jobs are waiting. */
const SINGLE_ATTEMPT_TASK = "webhook_attempt";
/**
 * Deliveries per job at most. One job's attempts run side by side and are read and recorded in
 * one statement each: the queue's and the database's work per delivery falls with the batch,
 * which under load is what keeps delivery up with the events (a quiet stream hands batches of one).
 * A busy stream's gathering (300 ms) at 200-300 events a second fills about one job of 100 per
 * dispatch: against jobs of 50, PostgreSQL's CPU for the queue and the worker fell from 0.14-0.17
 * to 0.09-0.12 ms a delivery (events bench, BENCH_STATEMENTS=1, alternating builds).
 */
const BATCH = 100;
/** The queue's connections per instance: graphile-worker's LISTEN, job fetches and completions, the dispatcher's hand-overs. */
const QUEUE_CONNECTIONS = 6;
/**
 * How often each idle queue worker looks for jobs unannounced. Jobs are announced (graphile-worker
 * LISTENs for them) and a worker that finishes one takes the next: polling is only the fallback
 * for a lost notification, and each idle worker's poll is a query.
 */
const QUEUE_POLL_MS = 10_000;
/** What must be left of a lease when its job starts: a whole attempt and its record. */
const LEASE_MARGIN_MS = ATTEMPT_TIMEOUT_MS + 2_000;
/** Serialises graphile-worker's own migrations across instances starting together. */
const QUEUE_MIGRATION_LOCK = 7_310_023;

/** What a job carries: where its deliveries are and the lease they were handed with (ids only, no data). */
interface AttemptsJob {
  database: string;
  deliveries: string[];
  token: string;
}

export interface WebhookWorkerOptions {
  rules: AddressRules;
  /** Opens the endpoints' signing secrets (sealed under the master key). */
  keys: KeyRing;
  /** Attempts in flight at once per instance. */
  concurrency?: number;
  /** How often due deliveries are looked for without a notification (retries come due by the clock). */
  pollMs?: number;
  /** How long a wake waits to gather others before dispatching while the stream is quiet (a delivery's added latency). */
  gatherMs?: number;
  /** The same while busy (gatheringMs): fewer, fuller batches. */
  busyGatherMs?: number;
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
 * SKIP LOCKED and hands them, in batches, to graphile-worker, a PostgreSQL-backed queue in
 * control, as jobs carrying the lease's token. A job attempts the deliveries whose lease is still
 * its own, then logs the attempts and the next times in the same statement that releases the
 * leases. An instance that dies mid-attempt leaves leases that run out, and the next dispatch
 * hands those deliveries again: at least once, one worker at a time.
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
  private readonly gatherMs: number;
  private readonly busyGatherMs: number;
  /** How long the next dispatch gathers (gatheringMs), and when the last one ended. */
  private nextGatherMs: number;
  private lastDispatchAt = 0;

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
    this.gatherMs = options.gatherMs ?? 50;
    this.busyGatherMs = Math.max(options.busyGatherMs ?? 300, this.gatherMs);
    this.nextGatherMs = this.gatherMs;
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
    const attempts: Task = (payload) => this.attempts(payload as AttemptsJob);
    const single: Task = (payload) => {
      const { database, delivery, token } = payload as { database: string; delivery: string; token: string };
      return this.attempts({ database, deliveries: [delivery], token });
    };
    this.runner = await run({
      pgPool: this.pool,
      concurrency: this.concurrency,
      noHandleSignals: true,
      pollInterval: QUEUE_POLL_MS,
      logger,
      taskList: { [ATTEMPTS_TASK]: attempts, [SINGLE_ATTEMPT_TASK]: single },
    });
    this.unlisten = this.feed.on((database) => this.wake(database));
    this.timer = setInterval(() => this.wake(), this.pollMs);
    this.timer.unref();
    watchWebhooks(() => this.backlog());
    this.wake();
  }

  /**
   * Dispatches shortly (or right after the dispatch in progress): the database that announced an
   * event, or every database (the clock's tick, which finds retries come due). Wakes within the
   * gathering time, or during a dispatch, are gathered into one: under load, each claim then
   * takes many deliveries, and the queue's and the database's work per delivery falls. A quiet
   * stream gathers for 50 ms (its latency); a busy one (gatheringMs) for 300 ms: fewer statements
   * and jobs per delivery, its latency still well under a second.
   */
  wake(database?: string): void {
    if (database) this.pendingDatabases.add(database);
    else this.pendingAll = true;
    this.dispatchPending();
  }

  /** Starts a dispatch of what wakes asked for, unless one is under way (it starts the next when done). */
  private dispatchPending(): void {
    if (this.dispatching || !this.runner || (!this.pendingAll && !this.pendingDatabases.size)) return;
    this.dispatching = new Promise((ok) => setTimeout(ok, this.nextGatherMs))
      .then(() => {
        const names = this.pendingAll ? null : new Set(this.pendingDatabases);
        this.pendingAll = false;
        this.pendingDatabases.clear();
        return this.dispatchAll(names);
      })
      .then((handed) => {
        const now = performance.now();
        this.nextGatherMs = gatheringMs(handed, now - this.lastDispatchAt, this.gatherMs, this.busyGatherMs);
        this.lastDispatchAt = now;
      })
      .catch((error: unknown) => this.log.warn({ error: loggableError(error) }, "webhook dispatch failed; the next tick retries"))
      .finally(() => {
        this.dispatching = null;
        this.dispatchPending();
      });
  }

  /** Hands every due delivery of every open database (or of those named) to the queue; resolves, when done, to how many. */
  async dispatchAll(names: ReadonlySet<string> | null = null): Promise<number> {
    const handed = await Promise.all(
      this.topology.all
        .filter((db) => !names || names.has(db.name))
        .map((db) =>
          this.dispatch(db).catch((error: unknown) => {
            this.log.debug({ database: db.name, error: loggableError(error) }, "webhook dispatch skipped a database");
            return 0;
          }),
        ),
    );
    return handed.reduce((sum, n) => sum + n, 0);
  }

  /** Hands `db`'s due deliveries to the queue; resolves to how many. */
  private async dispatch(db: Database): Promise<number> {
    const claim = 2 * BATCH;
    let handed = 0;
    for (;;) {
      const { token, deliveries } = await claimDue(db.maintenance.manager, this.clock.now(), claim, this.leaseMs);
      if (!deliveries.length || !this.pool) return handed;
      // A batch mostly goes to one receiver: a slow one holds up few others.
      deliveries.sort((a, b) => a.endpointId.localeCompare(b.endpointId));
      const jobs: AttemptsJob[] = [];
      for (let i = 0; i < deliveries.length; i += BATCH) jobs.push({ database: db.name, token, deliveries: deliveries.slice(i, i + BATCH).map((d) => d.id) });
      // A crash between the lease and this leaves a lease that runs out: the deliveries are handed again.
      await this.pool.query(`SELECT graphile_worker.add_job($2, j, max_attempts := 1) FROM json_array_elements($1::json) j`, [
        JSON.stringify(jobs),
        ATTEMPTS_TASK,
      ]);
      handed += deliveries.length;
      if (deliveries.length < claim) return handed;
    }
  }

  /** One attempt of each leased delivery of a job, side by side; never throws (a job that failed would stay in the queue). */
  private async attempts(job: AttemptsJob): Promise<void> {
    try {
      const db = this.topology.database(job.database);
      if (!db) return;
      // Enough of the lease must be left for a whole attempt (ten seconds) and its record.
      const found = await leasedDeliveries(db.maintenance.manager, job.deliveries, job.token, LEASE_MARGIN_MS);
      const leased = found.filter((d) => d.enabled);
      const disabled = found.filter((d) => !d.enabled).map((d) => d.id);
      if (disabled.length) await failLeasedToDisabled(db.maintenance.manager, disabled, job.token, this.clock.now());
      const { opened: secrets, tampered } = await this.secretsOf(leased, db, this.clock.now());
      // Nothing is sent without its endpoint's own secret. A tampered one cannot sign again: its
      // endpoint is disabled, which fails its waiting deliveries; the others' leases run out.
      if (tampered.size) {
        await db.maintenance.transaction(async (m) => {
          for (const id of tampered) await disableEndpoint(m, id, TAMPERED_SECRET, this.clock.now());
        });
      }
      const sending = leased.filter((d) => secrets.has(d.endpointId));
      if (!sending.length) return;
      const at = this.clock.now();
      const outcomes = await Promise.all(sending.map((delivery) => this.attempt(delivery, secrets.get(delivery.endpointId)!, at)));
      const records = sending.map((d, i) => ({ id: d.id, outcome: outcomes[i], ...afterAttempt(outcomes[i], d.scheduledAttempts + 1, at) }));
      const verdicts = endpointVerdicts(
        sending.map((d, i) => ({ endpointId: d.endpointId, failingSince: d.failingSince, outcome: outcomes[i] })),
        at,
      );
      const disabling = verdicts.filter((v) => v.disable);
      const record = async (manager: EntityManager) => {
        const recorded = await recordAttempts(manager, job.token, at, records, verdicts);
        for (const v of disabling) await disableEndpoint(manager, v.endpointId, v.disable!, at);
        return new Set(recorded);
      };
      // One statement, unless an endpoint is disabled with it.
      const recorded = disabling.length ? await db.maintenance.transaction(record) : await record(db.maintenance.manager);
      const now = this.clock.now().getTime();
      for (const [i, r] of records.entries()) {
        if (!recorded.has(r.id)) continue;
        webhookAttempts.inc({ outcome: r.outcome.error ?? "ok" });
        if (r.status === "FAILED") webhookFailures.inc();
        if (r.outcome.error === null && sending[i].scheduledAttempts === 0)
          webhookLag.observe(Math.max(0, now - new Date(sending[i].occurredAt).getTime()) / 1000);
      }
    } catch (error) {
      this.log.warn(
        { database: job.database, error: loggableError(error) },
        "webhook attempts could not be made or recorded; their leases run out and they are handed again",
      );
    }
  }

  /**
   * The signing secrets of the deliveries' endpoints, opened once per job, and the endpoints whose
   * current secret failed authentication (tampered with, or moved from another endpoint). One that
   * does not open for another reason (its master key version not configured here) is in neither:
   * its deliveries wait, unsent, for an instance that has the key. A previous secret is opened
   * only while it still signs (`at` before its end); one that fails authentication signs no more
   * and is dropped from its row, so it is reported once, not at every job for the rest of its
   * day. Logged with endpoint ids only.
   */
  private async secretsOf(
    deliveries: readonly LeasedDelivery[],
    db: Database,
    at: Date,
  ): Promise<{ opened: Map<string, EndpointSecrets>; tampered: Set<string> }> {
    const { keys } = this.options;
    const opened = new Map<string, EndpointSecrets>();
    const tampered = new Set<string>();
    const unopened = new Set<string>();
    const previousNotOpened: string[] = [];
    const previousTampered: Array<{ id: string; sealed: Buffer }> = [];
    for (const d of deliveries) {
      if (opened.has(d.endpointId) || tampered.has(d.endpointId) || unopened.has(d.endpointId)) continue;
      let secret: string | null;
      try {
        secret = await openSecret(keys, d.endpointId, d.secret);
      } catch (error) {
        (error instanceof IntegrityError ? tampered : unopened).add(d.endpointId);
        continue;
      }
      if (secret === null) {
        unopened.add(d.endpointId);
        continue;
      }
      const signsStill = d.previousSecretUntil !== null && d.previousSecretUntil > at;
      const previous = !signsStill
        ? null
        : await openSecret(keys, d.endpointId, d.previousSecret).catch((error: unknown) => {
            previousNotOpened.push(d.endpointId);
            if (error instanceof IntegrityError && d.previousSecret.sealed) previousTampered.push({ id: d.endpointId, sealed: d.previousSecret.sealed });
            return null;
          });
      opened.set(d.endpointId, { secret, previousSecret: previous, previousSecretUntil: d.previousSecretUntil });
    }
    if (tampered.size || unopened.size || previousNotOpened.length) {
      this.log.error(
        { database: db.name, tampered: [...tampered], notOpened: [...unopened], previousNotOpened, previousDropped: previousTampered.map((p) => p.id) },
        "webhook signing secrets did not open: tampered ones disable their endpoint (rotate the secret, then enable it) or, rotated out, are dropped; others' deliveries wait for an instance with their master key version",
      );
    }
    for (const { id, sealed } of previousTampered) await dropPreviousSecret(db.maintenance.manager, id, sealed);
    return { opened, tampered };
  }

  /** One signed POST of a delivery's event. */
  private attempt(leased: LeasedDelivery, secrets: EndpointSecrets, at: Date): Promise<AttemptOutcome> {
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
      "webhook-signature": signature(signingSecrets(secrets, at), leased.eventId, timestamp, body),
    };
    return attemptDelivery({ url: leased.url, headers, body }, this.options.rules, this.agents);
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
