import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { createDataSource } from "../ormconfig";
import { seedStorageLocations } from "../src/modules/storage-location/storage-location.service";
import { startEmbeddedPostgres } from "../src/shared/db/embedded";
import { migrate } from "../src/shared/db/migrate";
import type { Logger } from "../src/shared/logging";

export interface FreshDatabase {
  url: string;
  /** Where it lives, for people reading the output. */
  description: string;
  drop(): Promise<void>;
}

/** A new, empty database on the server `serverUrl` names; `drop` removes it (open connections too). */
export async function createDatabaseOn(serverUrl: string, name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Applies the migrations and seeds the storage locations. */
export async function migrateAndSeed(url: string): Promise<void> {
  // Set-up, not a request: no statement timeouts (migrate holds one connection for its lock).
  const db = createDataSource(url, { poolSize: 2, timeouts: false });
  await db.initialize();
  try {
    await migrate(db);
    await seedStorageLocations(db, new Date());
  } finally {
    await db.destroy();
  }
}

/**
 * A migrated, seeded PostgreSQL database that exists only for one run: with DATABASE_URL, a new
 * database on that server (dropped by `drop`); without, an embedded server in a fresh
 * temporary directory (stopped and removed by `drop`), started with `settings`.
 */
export async function freshDatabase(prefix: string, log: Logger, settings?: Record<string, string>): Promise<FreshDatabase> {
  const cleanup: Array<() => Promise<void>> = [];
  const drop = async () => {
    for (const task of cleanup.reverse()) await task().catch((e) => console.error("cleanup failed:", e));
  };
  let url: string;
  let description: string;
  try {
    if (process.env.DATABASE_URL) {
      const name = `${prefix}_${Date.now()}_${randomBytes(3).toString("hex")}`;
      const created = await createDatabaseOn(process.env.DATABASE_URL, name);
      cleanup.push(created.drop);
      url = created.url;
      description = `database ${name} on ${new URL(url).host}`;
    } else {
      const dir = await mkdtemp(join(tmpdir(), `${prefix.replace(/_/g, "-")}-`));
      cleanup.push(() => rm(dir, { recursive: true, force: true }));
      const embedded = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), database: prefix, log, settings });
      cleanup.push(() => embedded.stop());
      url = embedded.url;
      description = `embedded PostgreSQL in ${dir}`;
    }
    await migrateAndSeed(url);
  } catch (error) {
    await drop();
    throw error;
  }
  return { url, description, drop };
}
