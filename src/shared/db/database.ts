import { createHash } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";

/**
 * The database a context works against: control or one location's region. Every data access
 * goes through the context it is handed (`em(ctx)`); which database that is, the request context
 * decides (src/context.ts), never a store.
 */
export interface DbContext {
  db: DataSource;
  /** The request session's manager (its connection and transaction); null outside a request. */
  tx: EntityManager | null;
}

/** The manager to query with: the request's session, else (outside a request) the pool. */
export function em(ctx: DbContext): EntityManager {
  return ctx.tx ?? ctx.db.manager;
}

/** PostgreSQL error fields we may log or branch on; never `detail`, which can hold values. */
export function pgErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown; driverError?: { code?: unknown } })?.driverError?.code ?? (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : undefined;
}

export const PG_UNIQUE_VIOLATION = "23505";
export const PG_FOREIGN_KEY_VIOLATION = "23503";
export const PG_SERIALIZATION_FAILURE = "40001";
export const PG_INVALID_PASSWORD = "28P01";

/**
 * The rows an UPDATE or DELETE ... RETURNING gave. TypeORM answers those with [rows, rowCount]
 * and other statements with the rows alone; this reads both.
 */
export async function returning<T>(manager: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const result: unknown = await manager.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === "number") return result[0] as T[];
  return result as T[];
}

/**
 * A query as a named prepared statement: each connection plans it once, not on every call (the
 * dashboard's statement spent 2-3 ms of its 10 in the planner). The name is a hash of the text,
 * so different texts never share one. pg takes `{ name, text }` where TypeORM passes a string on.
 */
export function preparedQuery<T>(manager: EntityManager, text: string, params: unknown[]): Promise<T[]> {
  return manager.query({ name: statementName(text), text } as unknown as string, params);
}

/** Statement names by text: hashing a page's few kilobytes of SQL on every call showed in profiles. */
const statementNames = new Map<string, string>();
const MAX_STATEMENT_NAMES = 2000;

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `c_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
    // The texts are the read path's shapes, a bounded set; a cap keeps an odd client from growing it.
    if (statementNames.size >= MAX_STATEMENT_NAMES) statementNames.clear();
    statementNames.set(text, name);
  }
  return name;
}

/** Runs a data-modifying statement (one with RETURNING) and counts the rows it returned, in one round trip. */
export async function countedChange(manager: EntityManager, changeSql: string, params: unknown[]): Promise<number> {
  const [{ n }]: Array<{ n: number }> = await manager.query(`WITH changed AS (${changeSql}) SELECT count(*)::int AS n FROM changed`, params);
  return n;
}
