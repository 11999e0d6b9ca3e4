import type { DataSource, EntityManager, QueryRunner } from "typeorm";

/** Which of a location's databases a statement failed on: its data, or its key store. */
export type DatabasePart = "database" | "key store";

/** Where a statement failed: the database's name (a location's code, or control) and which of its databases. */
export interface FailedOn {
  database: string;
  part: DatabasePart;
}

/** The database each failed statement was sent to, by its error (for statements sent through namingFailures). */
const failedOn = new WeakMap<object, FailedOn>();

/**
 * `send`, whose failures note that they happened on `database`: an outage's error then names
 * the location whose database did not answer (see format-error), whichever layer threw it.
 */
function namingFailures<A extends unknown[], R>(where: FailedOn, send: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return (...args: A) =>
    send(...args).catch((error: unknown) => {
      if (error !== null && typeof error === "object") failedOn.set(error, where);
      throw error;
    });
}

/**
 * Every statement of `db` fails naming `database`, also on a connection lost after its runner
 * connected (a request session that opened just before the server died). Repositories, query
 * builders and transactions send theirs through a runner's `query`, which connects first; a
 * runner's manager refuses by itself once TypeORM has released the runner of a lost connection.
 */
export function nameFailuresOf(db: DataSource, database: string, part: DatabasePart = "database"): DataSource {
  const where = { database, part };
  const create = db.createQueryRunner.bind(db);
  db.createQueryRunner = (...args: Parameters<DataSource["createQueryRunner"]>): QueryRunner => {
    const runner = create(...args);
    runner.query = namingFailures(where, runner.query.bind(runner)) as QueryRunner["query"];
    runner.manager.query = namingFailures(where, runner.manager.query.bind(runner.manager)) as EntityManager["query"];
    return runner;
  };
  return db;
}

/** The database a statement failed on, found on its error or one it wraps. */
export function failedDatabaseOf(error: unknown, depth = 0): FailedOn | null {
  if (error === null || typeof error !== "object" || depth > 4) return null;
  const named = failedOn.get(error);
  if (named !== undefined) return named;
  const e = error as { originalError?: unknown; cause?: unknown; driverError?: unknown };
  return failedDatabaseOf(e.originalError, depth + 1) ?? failedDatabaseOf(e.cause, depth + 1) ?? failedDatabaseOf(e.driverError, depth + 1);
}
