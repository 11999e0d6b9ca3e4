import type { DataSource } from "typeorm";

/** Any fixed number: two instances starting at once run the migrations one after the other. */
const MIGRATION_LOCK = 7_352_001;

/** Applies the pending migrations in one transaction, under an advisory lock. */
export async function migrate(db: DataSource): Promise<string[]> {
  const runner = db.createQueryRunner();
  await runner.connect();
  try {
    await runner.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    const applied = await db.runMigrations({ transaction: "all" });
    return applied.map((m) => m.name);
  } finally {
    await runner.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}
