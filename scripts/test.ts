import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { createDataSource } from "../ormconfig";
import { seedStorageLocations } from "../src/modules/storage-location/storage-location.service";
import { startEmbeddedPostgres } from "../src/shared/db/embedded";
import { migrate } from "../src/shared/db/migrate";
import { createLogger } from "../src/shared/logging";

/**
 * Runs the suite against a real PostgreSQL that exists only for this run: with DATABASE_URL, a
 * fresh database on that server, dropped afterwards; without, an embedded server in a fresh
 * temporary directory. Migrations run once here, then node's test runner runs dist/test/.
 * Arguments are passed on to `node --test` (e.g. --test-name-pattern=tenant).
 */
async function main(): Promise<number> {
  const log = createLogger(process.env.LOG_LEVEL ?? "warn");
  let url: string;
  const cleanup: Array<() => Promise<void>> = [];

  if (process.env.DATABASE_URL) {
    const adminUrl = process.env.DATABASE_URL;
    const name = `custodian_test_${Date.now()}_${randomBytes(3).toString("hex")}`;
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
    const testUrl = new URL(adminUrl);
    testUrl.pathname = `/${name}`;
    url = testUrl.toString();
    console.log(`# test database ${name} on ${testUrl.host}`);
  } else {
    const dir = await mkdtemp(join(tmpdir(), "custodian-test-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const embedded = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), database: "custodian_test", log });
    cleanup.push(() => embedded.stop());
    url = embedded.url;
    console.log(`# embedded PostgreSQL in ${dir}`);
  }

  try {
    const db = createDataSource(url, { poolSize: 2 });
    await db.initialize();
    await migrate(db);
    await seedStorageLocations(db, new Date());
    await db.destroy();

    const child = spawn(process.execPath, ["--test", ...process.argv.slice(2), join(__dirname, "..", "test")], {
      stdio: "inherit",
      env: { ...process.env, DATABASE_URL: url, CUSTODIAN_TEST: "1" },
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    return await new Promise<number>((ok) => child.on("exit", (code) => ok(code ?? 1)));
  } finally {
    for (const task of cleanup.reverse()) await task().catch((e) => console.error("cleanup failed:", e));
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
