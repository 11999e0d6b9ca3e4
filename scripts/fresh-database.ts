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

/**
 * A migrated, seeded PostgreSQL database that exists only for one run: with DATABASE_URL, a new
 * database on that server (dropped by `drop`); without, an embedded server in a fresh
 * temporary directory (stopped and removed by `drop`).
 */
export async function freshDatabase(prefix: string, log: Logger): Promise<FreshDatabase> {
  const cleanup: Array<() => Promise<void>> = [];
  const drop = async () => {
    for (const task of cleanup.reverse()) await task().catch((e) => console.error("cleanup failed:", e));
  };
  let url: string;
  let description: string;
  try {
    if (process.env.DATABASE_URL) {
      const adminUrl = process.env.DATABASE_URL;
      const name = `${prefix}_${Date.now()}_${randomBytes(3).toString("hex")}`;
      const admin = new Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      cleanup.push(async () => {
        const c = new Client({ connectionString: adminUrl });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      });
      const dbUrl = new URL(adminUrl);
      dbUrl.pathname = `/${name}`;
      url = dbUrl.toString();
      description = `database ${name} on ${dbUrl.host}`;
    } else {
      const dir = await mkdtemp(join(tmpdir(), `${prefix.replace(/_/g, "-")}-`));
      cleanup.push(() => rm(dir, { recursive: true, force: true }));
      const embedded = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), database: prefix, log });
      cleanup.push(() => embedded.stop());
      url = embedded.url;
      description = `embedded PostgreSQL in ${dir}`;
    }
    const db = createDataSource(url, { poolSize: 2 });
    await db.initialize();
    await migrate(db);
    await seedStorageLocations(db, new Date());
    await db.destroy();
  } catch (error) {
    await drop();
    throw error;
  }
  return { url, description, drop };
}
