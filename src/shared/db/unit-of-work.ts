import type { EntityManager } from "typeorm";
import { DomainError } from "../errors";
import { currentToken, RequestSession, runInside, type RowScope } from "./session";
import { CONTROL, DatabaseUnavailableError, type Database, type Topology } from "./topology";

/**
 * One request's work over the databases of the topology: a session (RequestSession) per
 * database it touches, opened when first needed, with the caller's scope. A mutation is one
 * `transaction`: every database the work touches joins it when first used, and at its end the
 * region databases commit first and control last. A crash between them leaves a region ahead of
 * control, never behind it: region rows are the truth control's directory is repaired from
 * (see the tenant directory's reconcile), and control's reference rows are copied to the regions.
 */
export class UnitOfWork {
  private readonly sessions = new Map<string, Promise<RequestSession>>();
  /** Which database each opened session is on. */
  private readonly names = new Map<RequestSession, string>();
  /** The running transaction: its token and the sessions that joined it, in order. */
  private running: { token: object; joined: RequestSession[]; afterCommit: Array<() => Promise<void>> } | null = null;
  private closed = false;

  constructor(
    readonly topology: Topology,
    private readonly scope: RowScope,
    private readonly holder: string,
  ) {}

  /**
   * The session on database `name`, opened on first use; inside this unit's running
   * transaction, the session has joined it.
   */
  async session(name: string): Promise<RequestSession> {
    if (this.closed) throw new Error("the request session is closed");
    let opening = this.sessions.get(name);
    if (!opening) {
      opening = this.topology.region(name).then(
        (database) => (database ? this.open(database) : Promise.reject(new Error(`no database is named ${name}`))),
        (error: unknown) => Promise.reject(new DatabaseUnavailableError(name, { cause: error })),
      );
      this.sessions.set(name, opening);
      // A failed open is retried by the next request, not by this one's other resolvers.
      opening.catch(() => undefined);
    }
    const session = await opening;
    const running = this.running;
    if (running && currentToken() === running.token && !session.joined(running.token)) {
      await session.begin(running.token);
      running.joined.push(session);
    }
    return session;
  }

  private async open(database: Database): Promise<RequestSession> {
    try {
      const session = await RequestSession.open(database.app, this.scope, this.holder);
      this.names.set(session, database.name);
      if (this.closed) await session.close();
      return session;
    } catch (error) {
      // A refusal of ours (the caller's connection share is used up) stays what it is.
      if (error instanceof DomainError) throw error;
      throw new DatabaseUnavailableError(database.name, { cause: error });
    }
  }

  /**
   * Runs `work` as one transaction over every database it touches, starting with `home`; commits
   * the regions first and control last, before returning. A failure rolls back what has not
   * committed.
   */
  async transaction<T>(home: string, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.running && currentToken() === this.running.token) throw new Error("a transaction of the request is already running here");
    const token = {};
    const homeSession = await this.session(home);
    await homeSession.begin(token);
    const running = { token, joined: [homeSession], afterCommit: [] as Array<() => Promise<void>> };
    this.running = running;
    let result: T;
    try {
      result = await runInside(token, () => work(homeSession.manager));
    } catch (error) {
      this.running = null;
      await Promise.all(running.joined.map((s) => s.rollback().catch(() => undefined)));
      throw error;
    }
    this.running = null;
    const isControl = (s: RequestSession) => this.names.get(s) === CONTROL;
    const order = [...running.joined.filter((s) => !isControl(s)), ...running.joined.filter(isControl)];
    for (let i = 0; i < order.length; i++) {
      try {
        await order[i].commit();
      } catch (error) {
        await Promise.all(order.slice(i + 1).map((s) => s.rollback().catch(() => undefined)));
        throw error;
      }
    }
    for (const work of running.afterCommit) await work();
    return result;
  }

  /**
   * Work that must follow the running transaction's commit, each statement on its own: what a
   * database writes about another's change once that change is durable (a tenant's audit entry
   * of a notification control committed). A crash before it leaves it to a repair that finds it
   * missing, never the other way round.
   */
  afterCommit(work: () => Promise<void>): void {
    if (!this.running) throw new Error("afterCommit outside a transaction of the request");
    this.running.afterCommit.push(work);
  }

  /** Closes every session the request opened (see RequestSession.close). */
  async close(): Promise<void> {
    this.closed = true;
    const pending = [...this.sessions.values()].map((opening) => opening.then((s) => s.close()).catch(() => undefined));
    await Promise.all(pending);
  }
}
