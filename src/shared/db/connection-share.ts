import { rateLimitRefusals } from "../metrics";
import type { DataSource } from "typeorm";
import { DomainError, ErrorCode } from "../errors";

/** How long a request waits for a connection it may take before it is refused. */
export const SHARE_WAIT_MS = 3000;

/**
 * How a request pool's connections are shared between principals. Each principal may always
 * hold its share (40% of the pool, at least one). It may hold more while the pool is quiet, but
 * never the reserve (20%, at least one): that much is always left for other principals, and once
 * the pool is busy a principal over its share waits until it is under it again, or the pool is
 * quiet, while everyone else's requests go first. One auditor's twelve concurrent verifications
 * once held every connection for two minutes, and every other caller in every tenant was told the
 * database was unavailable; a single busy integration still gets most of an idle pool. Waiters
 * are served in arrival order, and refused (RATE_LIMITED, retryable) after SHARE_WAIT_MS.
 * Anonymous callers share one holder key.
 */
export class ConnectionShare {
  private readonly held = new Map<string, number>();
  private total = 0;
  private readonly waiting: Array<{ holder: string; wake: () => void }> = [];

  constructor(
    readonly share: number,
    readonly poolSize: number,
    readonly reserve: number,
  ) {}

  static forPool(poolSize: number): ConnectionShare {
    return new ConnectionShare(Math.max(1, Math.floor(poolSize * 0.4)), poolSize, Math.max(1, Math.floor(poolSize * 0.2)));
  }

  /** Whether `holder` may take one more connection now. */
  private mayTake(holder: string): boolean {
    return (this.held.get(holder) ?? 0) < this.share || this.total < this.poolSize - this.reserve;
  }

  private take(holder: string): void {
    this.held.set(holder, (this.held.get(holder) ?? 0) + 1);
    this.total += 1;
  }

  /** Resolves with the release function once `holder` may take a connection. */
  async acquire(holder: string, waitMs = SHARE_WAIT_MS): Promise<() => void> {
    // Behind earlier waiters of the same holder, never ahead of them.
    if (this.mayTake(holder) && !this.waiting.some((w) => w.holder === holder)) {
      this.take(holder);
    } else {
      await new Promise<void>((ok, fail) => {
        const waiter = {
          holder,
          wake: () => {
            clearTimeout(timer);
            ok();
          },
        };
        const timer = setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          rateLimitRefusals.inc({ limit: "connections" });
          fail(
            new DomainError(ErrorCode.RATE_LIMITED, "Your requests already hold their share of the database connections; retry when one has finished.", {
              retryAfterSeconds: 1,
              http: { status: 429, headers: new Map([["retry-after", "1"]]) },
            }),
          );
        }, waitMs);
        this.waiting.push(waiter);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const count = (this.held.get(holder) ?? 1) - 1;
      if (count > 0) this.held.set(holder, count);
      else this.held.delete(holder);
      this.total -= 1;
      this.wakeWaiters();
    };
  }

  /** Wakes, in arrival order, each waiter that may now take a connection (a holder's first waiter only). */
  private wakeWaiters(): void {
    const passed = new Set<string>();
    for (let i = 0; i < this.waiting.length;) {
      const { holder, wake } = this.waiting[i];
      if (!passed.has(holder) && this.mayTake(holder)) {
        this.waiting.splice(i, 1);
        this.take(holder);
        wake();
        continue;
      }
      passed.add(holder);
      i += 1;
    }
  }

  /** Connections all holders hold right now. */
  get inUse(): number {
    return this.total;
  }

  /** Connections `holder` holds right now. */
  holding(holder: string): number {
    return this.held.get(holder) ?? 0;
  }
}

const shares = new WeakMap<DataSource, ConnectionShare>();

/** The share of a request pool, sized from its pool. */
export function shareOf(db: DataSource): ConnectionShare {
  let share = shares.get(db);
  if (!share) {
    share = ConnectionShare.forPool((db.options as { poolSize?: number }).poolSize ?? 10);
    shares.set(db, share);
  }
  return share;
}
