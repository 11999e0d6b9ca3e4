import { AsyncLocalStorage } from "node:async_hooks";
import type { DataSource, EntityManager, QueryRunner } from "typeorm";
import { scopeClaim, scopeKeyOf } from "./scope-claim";
import { shareOf } from "./connection-share";

/**
 * Whose rows a transaction may see under row-level security: every tenant's (operators, the
 * retention engine), one tenant's, or none (partners, anonymous callers).
 */
export type RowScope = { all: true } | { all: false; tenantId: string | null };

export const ALL_TENANTS: RowScope = { all: true };

/**
 * A transaction of its own on the maintenance pool (custodian_maintenance sees every tenant's
 * rows; see the roles migration). For work outside a request: retention, the audit purge.
 */
export function inMaintenance<T>(db: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  return db.transaction(work);
}

/**
 * Sets the signed scope claim for the open transaction; the claim travels as a parameter, never
 * in a statement's text. Prepared once per connection (pg takes `{ name, text }`).
 */
const SET_SCOPE = { name: "custodian_set_scope", text: "SELECT set_config('custodian.scope', $1, true)" } as unknown as string;

/** The checkpoint's COMMIT, told apart from TypeORM's own by its text. */
const CHECKPOINT = "COMMIT /* checkpoint */";

/**
 * One request's connection to the database: every query of the request runs on it, inside a
 * transaction whose settings carry the caller's scope to the row-level security policies.
 * `checkpoint` commits what the request did so far (an acknowledged write, an audited read);
 * the request's next statement runs in a new transaction with the same scope. `close` commits
 * and releases.
 */
export class RequestSession {
  private closed = false;
  /** While close commits or rolls back: statements queued before it still run, later ones are refused. */
  private finishing = false;
  /**
   * After a checkpoint no transaction is open until a statement needs one: it then begins one,
   * with the scope, first. A request that ends at its checkpoint (a read of values, most
   * mutations) has nothing left to commit at close.
   */
  private between = false;

  private constructor(
    private readonly runner: QueryRunner,
    /** Gives the principal's connection share back (see ConnectionShare). */
    private readonly releaseShare: () => void,
  ) {}

  /** `holder`: who the connection counts against (one principal holds at most its share). */
  static async open(db: DataSource, scope: RowScope, holder: string): Promise<RequestSession> {
    const releaseShare = await shareOf(db).acquire(holder);
    const runner = db.createQueryRunner();
    const session = new RequestSession(runner, releaseShare);
    const query = runner.query.bind(runner);
    const key = scopeKeyOf(db);
    // The claim is bound to the connection's backend, known once connected. It is sent as a
    // parameter: a statement's text is visible to every session of the role (pg_stat_activity).
    let claim = "";
    const begin = async () => {
      await query("START TRANSACTION");
      await query(SET_SCOPE, [claim]);
    };
    const run = async (args: Parameters<QueryRunner["query"]>) => {
      // Nothing runs on the connection once the session is closed: a statement would otherwise run
      // outside any transaction, or on a connection already back in the pool.
      if (session.closed && !session.finishing) throw new Error("the request session is closed");
      if (args[0] === CHECKPOINT) {
        if (session.between) return [];
        const result = await query("COMMIT");
        session.between = true;
        return result;
      }
      if (session.between) {
        if (args[0] === "COMMIT" || args[0] === "ROLLBACK") return [];
        await begin();
        session.between = false;
      }
      if (args[0] === "START TRANSACTION") {
        // TypeORM's own begin (the session's first transaction), with the scope, as after a checkpoint.
        await begin();
        return [];
      }
      return query(...args);
    };
    // Resolvers run concurrently but share this one connection: their statements take turns.
    let turn: Promise<unknown> = Promise.resolve();
    const enqueue = (args: Parameters<QueryRunner["query"]>) => {
      const result = turn.then(() => run(args));
      turn = result.catch(() => undefined);
      return result;
    };
    runner.query = ((...args: Parameters<QueryRunner["query"]>) => {
      const gate = session.gateFor();
      return gate ? gate.then(() => runner.query(...args)) : enqueue(args);
    }) as QueryRunner["query"];
    try {
      await runner.connect();
      const pid = (runner as unknown as { databaseConnection: { processID?: number } }).databaseConnection.processID;
      if (typeof pid !== "number") throw new Error("the connection did not say its backend pid");
      claim = scopeClaim(key, scope, pid);
      await runner.startTransaction();
    } catch (error) {
      releaseShare();
      await runner.release().catch(() => undefined);
      throw error;
    }
    return session;
  }

  get manager(): EntityManager {
    return this.runner.manager;
  }

  /** True inside a nested transaction (a mutation's savepoint), where nothing may be committed yet. */
  get nested(): boolean {
    return (this.runner as unknown as { transactionDepth: number }).transactionDepth > 1;
  }

  /**
   * Commits what the request did so far. Its next statement begins a new transaction with the
   * same scope first (see open): no query of a concurrent resolver can run without the scope.
   */
  async checkpoint(): Promise<void> {
    if (this.closed || this.nested) return;
    await this.runner.query(CHECKPOINT);
  }

  /** Which `exclusively` call the running code belongs to (AsyncLocalStorage follows awaits). */
  private static readonly holder = new AsyncLocalStorage<object>();
  private exclusive: { token: object; released: Promise<void> } | null = null;

  /** Statements from outside the running `exclusively` call wait for its end; null when none runs. */
  private gateFor(): Promise<void> | null {
    return this.exclusive && RequestSession.holder.getStore() !== this.exclusive.token ? this.exclusive.released : null;
  }

  /**
   * Runs `work` alone on the connection: the statements of the request's other resolvers (their
   * writes, their checkpoints' commits) wait until it ends, so what `work` reads over several
   * statements is one transaction at one moment, with the locks it took still held. A chain's
   * verification needs this: a value read in the same document committed its audit entry in the
   * middle of it, and the verification compared a head and entries of two moments.
   */
  async exclusively<T>(work: () => Promise<T>): Promise<T> {
    while (this.exclusive) await this.exclusive.released;
    let release!: () => void;
    const token = {};
    this.exclusive = { token, released: new Promise((ok) => (release = ok)) };
    try {
      return await RequestSession.holder.run(token, work);
    } finally {
      this.exclusive = null;
      release();
    }
  }

  /**
   * Ends the request: commits what is open, or, when an operation is still inside its savepoint
   * (it has not finished, so nothing of it was acknowledged), rolls all of it back. Either way
   * the connection returns to the pool with no transaction open, and nothing of this request
   * runs on it afterwards.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.end();
    } finally {
      this.releaseShare();
    }
  }

  private async end(): Promise<void> {
    // The connection was lost (TypeORM then releases the runner) and the server rolled back what
    // was open. That held no acknowledged write: every write is committed at a checkpoint before
    // it is acknowledged (the mutation guard, audited reads). The statements that failed answer
    // for themselves; what the request read before stays true.
    if (this.runner.isReleased) return;
    this.finishing = true;
    try {
      if (this.nested) await this.runner.query("ROLLBACK");
      else if (this.runner.isTransactionActive) await this.runner.commitTransaction();
    } finally {
      this.finishing = false;
      // A COMMIT that fails ends the transaction too (PostgreSQL rolls it back).
      await this.runner.release();
    }
  }
}
