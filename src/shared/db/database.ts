import type { DataSource, EntityManager } from "typeorm";

/**
 * The database a request works against. Every data access goes through the request context's
 * `db`, so choosing a database per storage location later stays a change in one place.
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

/**
 * The rows an UPDATE or DELETE ... RETURNING gave. TypeORM answers those with [rows, rowCount]
 * and other statements with the rows alone; this reads both.
 */
export async function returning<T>(manager: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const result: unknown = await manager.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === "number") return result[0] as T[];
  return result as T[];
}
