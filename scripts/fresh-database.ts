import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { openDatabases } from "../src/databases";
import type { Config } from "../src/config";
import { startEmbeddedPostgres, type EmbeddedServer } from "../src/shared/db/embedded";
import { createLogger, type Logger } from "../src/shared/logging";

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
    /** Drops it and the region databases made beside it (`<name>_<location>`). */
    async drop() {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      try {
        const { rows } = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`, [name, `${name}\\_%`]);
        for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * The control database's URL a command works on: DATABASE_URL, or the embedded server `npm start`
 * uses (its running server when the API runs, else one of its own, returned to be stopped).
 */
export async function configuredServer(config: Config, log: Logger): Promise<{ url: string; embedded?: EmbeddedServer }> {
  if (config.databaseUrl) return { url: config.databaseUrl };
  const embedded = await startEmbeddedPostgres({ dataDir: config.embeddedDataDir, database: "custodian", log });
  return { url: embedded.url, embedded };
}

/** Makes control and each seeded location's region database, migrated; seeds the storage locations. */
export async function migrateAndSeed(url: string, log: Logger = createLogger("warn")): Promise<void> {
  // Set-up, not a request: no statement timeouts (migrate holds one connection for its lock).
  const topology = await openDatabases({ controlUrl: url, pool: { poolSize: 2, timeouts: false }, log, now: new Date() });
  await topology.close();
}

/**
 * A PostgreSQL database that exists only for one run, made ready by `prepare` (by default
 * migrated and seeded, regions too): with DATABASE_URL, a new database on that server (dropped
 * by `drop`); without, an embedded server in a fresh temporary directory (stopped and removed by
 * `drop`), started with `settings`.
 */
export async function freshDatabase(
  prefix: string,
  log: Logger,
  settings?: Record<string, string>,
  prepare: (url: string) => Promise<void> = migrateAndSeed,
): Promise<FreshDatabase> {
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
    await prepare(url);
  } catch (error) {
    await drop();
    throw error;
  }
  return { url, description, drop };
}
