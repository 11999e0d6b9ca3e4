import type { DataSource } from "typeorm";
import { DomainError, ErrorCode } from "../errors";

/** How long a request waits for one of its principal's own connections before it is refused. */
export const SHARE_WAIT_MS = 3000;

/**
 * No principal holds more than its share of a pool's connections (40%, at least one): its extra
 * requests wait for one of its own to end, in arrival order, while everyone else's go ahead.
 * One auditor's twelve concurrent verifications once held every connection for two minutes and
 * every other caller, in every tenant, was told the database was unavailable. Anonymous callers
 * share one key between them.
 */
export class ConnectionShare {
  private readonly held = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(readonly limit: number) {}

  static forPool(poolSize: number): ConnectionShare {
    return new ConnectionShare(Math.max(1, Math.floor(poolSize * 0.4)));
  }

  /** Resolves with the release function once `holder` may take a connection. */
  async acquire(holder: string, waitMs = SHARE_WAIT_MS): Promise<() => void> {
    if ((this.held.get(holder) ?? 0) >= this.limit) {
      await new Promise<void>((ok, fail) => {
        const queue = this.waiting.get(holder) ?? [];
        this.waiting.set(holder, queue);
        const wake = () => {
          clearTimeout(timer);
          ok();
        };
        const timer = setTimeout(() => {
          queue.splice(queue.indexOf(wake), 1);
          if (!queue.length) this.waiting.delete(holder);
          fail(
            new DomainError(ErrorCode.RATE_LIMITED, `Your requests already hold ${this.limit} database connections; retry when one has finished.`, {
              retryAfterSeconds: 1,
              http: { status: 429, headers: new Map([["retry-after", "1"]]) },
            }),
          );
        }, waitMs);
        queue.push(wake);
      });
    } else {
      this.held.set(holder, (this.held.get(holder) ?? 0) + 1);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Hand the slot straight to the next waiter of the same holder, or give it back.
      const next = this.waiting.get(holder)?.shift();
      if (next) {
        if (!this.waiting.get(holder)!.length) this.waiting.delete(holder);
        next();
        return;
      }
      const count = (this.held.get(holder) ?? 1) - 1;
      if (count > 0) this.held.set(holder, count);
      else this.held.delete(holder);
    };
  }

  /** Connections held per holder right now (for tests and metrics). */
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
