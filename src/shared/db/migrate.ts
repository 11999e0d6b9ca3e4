import type { DataSource } from "typeorm";
import { pgErrorCode, PG_UNIQUE_VIOLATION } from "./database";

/** Any fixed number: two instances starting at once run the migrations one after the other. */
const MIGRATION_LOCK = 7_352_001;

/** `work` on one connection of `db`, holding the migration lock. */
async function underMigrationLock<T>(db: DataSource, work: () => Promise<T>): Promise<T> {
  const runner = db.createQueryRunner();
  await runner.connect();
  try {
    await runner.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    return await work();
  } finally {
    await runner.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}

/**
 * Applies the pending migrations in one transaction, under an advisory lock. A database that
 * has applied exactly the known migrations is left alone after one cheap read: TypeORM's own
 * check reads information_schema, which cost PostgreSQL more CPU than anything else in a start.
 */
export async function migrate(db: DataSource): Promise<string[]> {
  if (await upToDate(db)) return [];
  return underMigrationLock(db, async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await db.runMigrations({ transaction: "all" })).map((m) => m.name);
      } catch (error) {
        // The whole transaction rolled back: run it again, and it finds the role made.
        if (!lostRoleRace(error) || attempt >= ROLE_RACE_ATTEMPTS) throw error;
      }
    }
  });
}

const ROLE_RACE_ATTEMPTS = 5;
const PG_DUPLICATE_OBJECT = "42710";
const PG_INTERNAL_ERROR = "XX000";

/**
 * Whether a migration failed because another database's migration changed the same role at the
 * same moment. Roles belong to the server, and the migration lock (an advisory lock) is per
 * database: two databases of one fresh server migrated at once (two deployments, CI's lanes)
 * both see a role missing and both create it, and the later one fails.
 */
export function lostRoleRace(error: unknown): boolean {
  const code = pgErrorCode(error);
  const fields = (error as { driverError?: { table?: unknown; message?: unknown } })?.driverError ?? (error as { table?: unknown; message?: unknown });
  if (code === PG_DUPLICATE_OBJECT) return true;
  if (code === PG_UNIQUE_VIOLATION) return fields?.table === "pg_authid" || fields?.table === "pg_auth_members";
  return code === PG_INTERNAL_ERROR && fields?.message === "tuple concurrently updated";
}

/** Whether the migrations table lists exactly the known migrations (a database without one is not). */
async function upToDate(db: DataSource): Promise<boolean> {
  const known = db.migrations.map((m) => m.name).filter((name): name is string => typeof name === "string");
  if (known.length !== db.migrations.length) return false;
  try {
    const rows: Array<{ name: string }> = await db.query(`SELECT name FROM migrations ORDER BY timestamp`);
    return rows.length === known.length && rows.every((row, i) => row.name === known[i]);
  } catch {
    return false;
  }
}

/** Undoes the newest applied migration (its `down`, in one transaction), under the same lock; its name, or null when none is applied. */
export function revertLast(db: DataSource): Promise<string | null> {
  return underMigrationLock(db, async () => {
    const [newest]: Array<{ name: string }> = await db.query(`SELECT name FROM migrations ORDER BY timestamp DESC LIMIT 1`).catch(() => []);
    if (!newest) return null;
    await db.undoLastMigration({ transaction: "all" });
    return newest.name;
  });
}

export interface Statement {
  query: string;
  parameters?: unknown[];
}

/**
 * What TypeORM's schema builder would change to make `db` match the entities (synchronize's
 * plan, never run): no statement when the migrations and the entity metadata agree. It sees
 * only the entities' tables, columns, keys, indexes, checks and defaults.
 */
export async function schemaDrift(db: DataSource): Promise<{ up: Statement[]; down: Statement[] }> {
  const sql = await db.driver.createSchemaBuilder().log();
  const plain = (q: { query: string; parameters?: unknown[] }): Statement =>
    q.parameters?.length ? { query: q.query, parameters: q.parameters } : { query: q.query };
  return { up: sql.upQueries.map(plain), down: sql.downQueries.map(plain) };
}
