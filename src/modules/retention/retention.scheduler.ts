import type { Logger } from "../../shared/logging";
import { loggableError } from "../../shared/logging";
import type { Database, Topology } from "../../shared/db/topology";
import { mergeRuns, type TopologyRetention } from "./topology-retention";
import type { RetentionRun } from "./retention.types";

/** The advisory lock that makes scheduled runs single-flight across every instance. */
export const RETENTION_LOCK_KEY = 7_310_001;

/**
 * Runs retention at start and then every interval (DOMAIN rule 9), on every database side by
 * side. Per database, only one instance runs a scheduled pass at a time: the others find that
 * database's advisory lock taken and skip it this tick. The lock is held by a session, so an
 * instance that dies releases it with its connection; a region that is down is skipped and logged.
 */
export class RetentionScheduler {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<unknown> | null = null;

  constructor(
    private readonly topology: Topology,
    private readonly retention: TopologyRetention,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    const tick = () => {
      this.current = this.runOnce().finally(() => (this.current = null));
    };
    setImmediate(tick);
    this.timer = setInterval(() => this.current ?? tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the schedule and waits for a run in progress to finish its batch loop. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.current;
  }

  /** One scheduled pass over every database; null when no database ran (other instances held them all). */
  async runOnce(): Promise<RetentionRun | null> {
    const done: RetentionRun[] = [];
    for (const { name, outcome } of await this.topology.each((database) => this.runOn(database))) {
      if (outcome.status === "rejected")
        this.log.error({ location: name, error: loggableError(outcome.reason) }, "retention run failed; the next tick retries");
      else if (outcome.value) done.push(outcome.value);
    }
    return done.length ? mergeRuns(done) : null;
  }

  /** One database's pass under its lock; null when another instance holds it. */
  private async runOn(database: Database): Promise<RetentionRun | null> {
    const runner = database.maintenance.createQueryRunner();
    try {
      await runner.connect();
      const [{ locked }] = await runner.query("SELECT pg_try_advisory_lock($1) AS locked", [RETENTION_LOCK_KEY]);
      if (!locked) {
        this.log.debug({ location: database.name }, "retention is running on another instance; skipping this tick");
        return null;
      }
      try {
        const run = await this.retention.runOn(database, { dryRun: false });
        this.log.info({ location: database.name, retention: { ...run } }, "retention run finished");
        if (run.auditChainsInvalid.length) {
          this.log.error({ location: database.name, chains: run.auditChainsInvalid }, "audit chains failed verification: no checkpoint was signed for them");
        }
        return run;
      } finally {
        await runner.query("SELECT pg_advisory_unlock($1)", [RETENTION_LOCK_KEY]);
      }
    } finally {
      await runner.release();
    }
  }
}
