import type { DataSource } from "typeorm";
import type { Logger } from "../../shared/logging";
import { loggableError } from "../../shared/logging";
import type { RetentionService } from "./retention.service";
import type { RetentionRun } from "./retention.types";

/** The advisory lock that makes scheduled runs single-flight across every instance. */
export const RETENTION_LOCK_KEY = 7_310_001;

/**
 * Runs retention at start and then every interval (DOMAIN rule 9). Only one instance runs a
 * scheduled pass at a time: the others find the advisory lock taken and skip that tick. The
 * lock is held by a session, so an instance that dies releases it with its connection.
 */
export class RetentionScheduler {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<unknown> | null = null;

  constructor(
    private readonly db: DataSource,
    private readonly retention: RetentionService,
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

  /** One scheduled pass; null when another instance holds the lock. */
  async runOnce(): Promise<RetentionRun | null> {
    const runner = this.db.createQueryRunner();
    try {
      await runner.connect();
      const [{ locked }] = await runner.query("SELECT pg_try_advisory_lock($1) AS locked", [RETENTION_LOCK_KEY]);
      if (!locked) {
        this.log.debug("retention is running on another instance; skipping this tick");
        return null;
      }
      try {
        const run = await this.retention.run({ dryRun: false });
        this.log.info({ retention: { ...run } }, "retention run finished");
        if (run.auditChainsInvalid.length) {
          this.log.error({ chains: run.auditChainsInvalid }, "audit chains failed verification: no checkpoint was signed for them");
        }
        return run;
      } finally {
        await runner.query("SELECT pg_advisory_unlock($1)", [RETENTION_LOCK_KEY]);
      }
    } catch (error) {
      this.log.error({ error: loggableError(error) }, "retention run failed; the next tick retries");
      return null;
    } finally {
      await runner.release();
    }
  }
}
