import { AsyncLocalStorage } from "node:async_hooks";
import type { Client } from "pg";
import { EventSubscriber, type DataSource, type EntityManager, type EntitySubscriberInterface, type QueryRunner } from "typeorm";
import type { AfterQueryEvent, BeforeQueryEvent } from "typeorm/subscriber/event/QueryEvent";
import { scopeClaim, scopeKeyOf } from "./scope-claim";
import { shareOf } from "./connection-share";
import { ScopedClient } from "./scoped-client";

/**
 * Whose rows a session may see under row-level security: every tenant's (operators, the
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
 * Which transaction the running code belongs to (AsyncLocalStorage follows awaits). Enabled only
 * while some session of the process runs a transaction: an enabled AsyncLocalStorage costs every
 * promise of the process (reads ran 6% slower with one always on).
 */
const inside = new AsyncLocalStorage<object>();
let transactionsRunning = 0;

/** Runs `work` as part of the transactions begun with `token`: its statements pass their gates. */
export function runInside<T>(token: object, work: () => Promise<T>): Promise<T> {
  return inside.run(token, work);
}

/** The transaction token the running code belongs to, if any. */
export function currentToken(): object | undefined {
  return inside.getStore();
}

/**
 * One request's unit of work on the database.
 *
 * - **Connection and scope**: the session holds one connection of the request pool, within the
 *   caller's share, and gives it the caller's signed scope claim, which the connection sends in
 *   the same round trip as each statement (ScopedClient); the row-level security policies verify
 *   it on every statement, and it lasts no longer than that statement's transaction.
 * - **Reads** run one statement at a time (pg queues a request's concurrent resolvers), each
 *   committed on its own: an audited read's entry is one INSERT, durable before its values leave.
 * - **Writes** run in `transaction`: one per mutation, holding the change and its audit entry,
 *   committed before the mutation's result is returned. While it runs, the statements of the
 *   request's other resolvers wait (a chain's verification beside a value read in one document):
 *   nothing another resolver commits lands inside it, and what it reads over several statements
 *   is one transaction with its locks held to its end.
 * - **Close** rolls back a transaction still open (its mutation was not acknowledged), takes the
 *   claim back and returns the connection; from then on no statement of the request runs.
 *
 * Built on TypeORM's public interfaces: a query runner, its `data`, and a subscriber's
 * `beforeQuery` and `afterQuery` (see StatementGate), which hold back the statements of other
 * resolvers during a transaction and refuse those of a closed session; pg's client for the
 * close's own statements.
 */
export class RequestSession {
  private closed = false;
  /** The transaction running, if any: statements from outside it wait for `ended`. */
  private current: { token: object; ended: Promise<void>; end: () => void } | null = null;
  /** Statements that passed the gate and have no answer yet. */
  private inFlight = 0;
  private drained: Array<() => void> = [];

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
    runner.data = { session };
    try {
      // pg's client knows its backend's pid from the start-up handshake (it cancels by it).
      const client: { processID?: unknown } = await runner.connect();
      if (!(client instanceof ScopedClient)) throw new Error("a request session needs a request pool's connection: open it with openRequestPool");
      if (typeof client.processID !== "number") throw new Error("the connection did not say its backend pid");
      // The claim is bound to this connection's backend: copied to another, it does not verify.
      client.scopeClaim = scopeClaim(scopeKeyOf(db), scope, client.processID);
    } catch (error) {
      releaseShare();
      await runner.release().catch(() => undefined);
      throw error;
    }
    return session;
  }

  /** The session's statements, each committed on its own unless inside `transaction`. */
  get manager(): EntityManager {
    return this.runner.manager;
  }

  /** True while a transaction of this session runs. */
  get inTransaction(): boolean {
    return this.current !== null;
  }

  /**
   * Runs `work` in a transaction on the session's connection and commits it before returning:
   * what the caller then acknowledges is durable. A failure rolls all of it back. The request's
   * other statements wait until it ends; those already sent are answered before it begins.
   * Transactions of one session run one after the other; TypeORM's `manager.transaction` inside
   * one becomes a savepoint. (A request's work over several databases: UnitOfWork.transaction.)
   */
  async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const token = {};
    await this.begin(token);
    let result: T;
    try {
      result = await runInside(token, () => work(this.runner.manager));
    } catch (error) {
      await this.rollback();
      throw error;
    }
    await this.commit();
    return result;
  }

  /**
   * Starts a transaction that the code running under `token` (see runInside) belongs to; the
   * session's other statements wait until `commit` or `rollback` ends it.
   */
  async begin(token: object): Promise<void> {
    if (this.closed) throw new Error("the request session is closed");
    if (this.current && inside.getStore() === this.current.token) throw new Error("a transaction of the request session is already running here");
    while (this.current) await this.current.ended;
    let end!: () => void;
    this.current = { token, ended: new Promise((ok) => (end = ok)), end };
    transactionsRunning++;
    try {
      await this.drain();
      // The transaction's own statements pass its gate.
      await runInside(token, () => this.runner.startTransaction());
    } catch (error) {
      this.finish();
      throw error;
    }
  }

  /** True while a transaction that `token` began runs. */
  joined(token: object): boolean {
    return this.current?.token === token;
  }

  async commit(): Promise<void> {
    const token = this.current?.token;
    if (!token) throw new Error("no transaction of the request session is running");
    try {
      await runInside(token, () => this.runner.commitTransaction());
    } catch (error) {
      await runInside(token, () => this.runner.rollbackTransaction()).catch(() => undefined);
      throw error;
    } finally {
      this.finish();
    }
  }

  async rollback(): Promise<void> {
    const token = this.current?.token;
    if (!token) return;
    try {
      if (this.runner.isTransactionActive && !this.runner.isReleased) await runInside(token, () => this.runner.rollbackTransaction());
    } finally {
      this.finish();
    }
  }

  private finish(): void {
    const current = this.current;
    if (!current) return;
    this.current = null;
    if (--transactionsRunning === 0) inside.disable();
    current.end();
  }

  /** Resolves once every statement that passed the gate has its answer. */
  private drain(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((ok) => this.drained.push(ok));
  }

  /**
   * Lets a statement of `runner` through, after the running transaction if it is not part of
   * it; refuses it once its session is closed. Runners of no session pass.
   */
  static admit(runner: QueryRunner): Promise<void> | void {
    const session = sessionOf(runner);
    if (!session) return;
    if (session.closed) throw new Error("the request session is closed");
    if (session.current && session.current.token !== inside.getStore()) return session.current.ended.then(() => RequestSession.admit(runner));
    session.inFlight++;
  }

  /** A statement `admit` let through was answered. */
  static answered(runner: QueryRunner): void {
    const session = sessionOf(runner);
    if (!session || --session.inFlight > 0) return;
    for (const ok of session.drained.splice(0)) ok();
  }

  /**
   * Ends the request: rolls back a transaction still open (its mutation has not finished, so
   * nothing of it was acknowledged), takes the claim back and returns the connection to the pool.
   * Statements of the request that come later are refused.
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
    // was open. That held no acknowledged write: a mutation commits before it is acknowledged.
    if (this.runner.isReleased) return;
    try {
      // The statements already past the gate are answered first; later ones are refused. The
      // close's own go to pg's client directly, past the gate.
      await this.drain();
      const client: ScopedClient = await this.runner.connect();
      try {
        if (this.runner.isTransactionActive) await (client as Client).query("ROLLBACK");
      } finally {
        client.scopeClaim = null;
      }
    } finally {
      // A failed ROLLBACK means a lost connection, which pg's pool discards.
      await this.runner.release();
    }
  }
}

function sessionOf(runner: QueryRunner): RequestSession | null {
  const session = (runner.data as { session?: unknown } | undefined)?.session;
  return session instanceof RequestSession ? session : null;
}

/**
 * The request session's gate, on TypeORM's subscriber hooks around each query. A statement from
 * outside a running transaction waits for its end; a statement of a closed session is refused:
 * a resolver still running when its request ended (a client that left mid-mutation) can neither
 * write outside its rolled-back transaction nor use a connection that went back to the pool.
 */
@EventSubscriber()
export class StatementGate implements EntitySubscriberInterface {
  beforeQuery(event: BeforeQueryEvent): Promise<void> | void {
    return RequestSession.admit(event.queryRunner);
  }

  afterQuery(event: AfterQueryEvent): void {
    RequestSession.answered(event.queryRunner);
  }
}
