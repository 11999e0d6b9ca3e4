import type { DataSource, EntityManager, QueryRunner } from "typeorm";
import { isUuid } from "../ids";

/**
 * Whose rows a transaction may see under row-level security: every tenant's (operators, the
 * retention engine), one tenant's, or none (partners, anonymous callers).
 */
export type RowScope = { all: true } | { all: false; tenantId: string | null };

export const ALL_TENANTS: RowScope = { all: true };

/** The transaction-local settings the policies read (values checked, so they can be inlined). */
export function scopeStatement(scope: RowScope): string {
  const tenant = !scope.all && scope.tenantId && isUuid(scope.tenantId) ? scope.tenantId.toLowerCase() : "";
  return `SELECT set_config('custodian.scope', '${scope.all ? "all" : ""}', true), set_config('custodian.tenant_id', '${tenant}', true)`;
}

/** A transaction of its own on the pool, under the given scope (for work outside a request). */
export function inScope<T>(db: DataSource, scope: RowScope, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  return db.transaction(async (manager) => {
    await manager.query(scopeStatement(scope));
    return work(manager);
  });
}

/**
 * One request's connection to the database: every query of the request runs on it, inside a
 * transaction whose settings carry the caller's scope to the row-level security policies.
 * `checkpoint` commits what the request did so far (an acknowledged write, an audited read)
 * and continues in a new transaction with the same scope; `close` commits and releases.
 */
export class RequestSession {
  private closed = false;

  private constructor(
    private readonly runner: QueryRunner,
    private readonly scope: RowScope,
  ) {}

  static async open(db: DataSource, scope: RowScope): Promise<RequestSession> {
    const runner = db.createQueryRunner();
    // Resolvers run concurrently but share this one connection: their statements take turns.
    const query = runner.query.bind(runner);
    let turn: Promise<unknown> = Promise.resolve();
    // The transaction's first statement carries the scope with it: one round trip, not two (a
    // dashboard request makes three in all). Should TypeORM ever begin with another text, the
    // scope is set on its own below; until it is set, the policies show no rows.
    let scoped = false;
    runner.query = ((...args: Parameters<QueryRunner["query"]>) => {
      if (!scoped && args[0] === "START TRANSACTION") {
        scoped = true;
        args[0] = `START TRANSACTION; ${scopeStatement(scope)}`;
      }
      const result = turn.then(() => query(...args));
      turn = result.catch(() => undefined);
      return result;
    }) as QueryRunner["query"];
    try {
      await runner.connect();
      await runner.startTransaction();
      if (!scoped) {
        scoped = true;
        await runner.query(scopeStatement(scope));
      }
    } catch (error) {
      await runner.release().catch(() => undefined);
      throw error;
    }
    return new RequestSession(runner, scope);
  }

  get manager(): EntityManager {
    return this.runner.manager;
  }

  /** True inside a nested transaction (a mutation's savepoint), where nothing may be committed yet. */
  get nested(): boolean {
    return (this.runner as unknown as { transactionDepth: number }).transactionDepth > 1;
  }

  /**
   * Commits and begins again in one round trip, so no query of a concurrent resolver of this
   * request can slip in between and run without the scope.
   */
  async checkpoint(): Promise<void> {
    if (this.closed || this.nested) return;
    await this.runner.query(`COMMIT; BEGIN; ${scopeStatement(this.scope)}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.runner.isTransactionActive) await this.runner.commitTransaction();
    } finally {
      await this.runner.release();
    }
  }
}
