import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../src/shared/logging";
import { Client, Pool } from "pg";
import { migrateQueue } from "../src/modules/events/webhook-worker";
import { withDatabase } from "../src/shared/db/topology";
import { freshDatabase, migrateAndSeed } from "./fresh-database";

/**
 * Runs the suite against a real PostgreSQL that exists only for this run: with DATABASE_URL, a
 * fresh database on that server, dropped afterwards; without, an embedded server in a fresh
 * temporary directory. Migrations run once here, then node's test runner runs dist/test/.
 * Arguments are passed on to `node --test` (e.g. --test-name-pattern=tenant).
 */
async function main(): Promise<number> {
  const scratch = memoryScratch();
  if (scratch) process.env.TMPDIR = scratch;
  try {
    return await run();
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

async function run(): Promise<number> {
  // The suite's own embedded server is thrown away after the run: it need not survive a power
  // cut, so it does not wait for the disk (durability is tested on servers of their own).
  const database = await freshDatabase("custodian_test", createLogger(process.env.LOG_LEVEL ?? "warn"), DISPOSABLE_SERVER, async (url) => {
    await migrateAndSeed(url);
    // The webhook queue's schema too, so no test file's copy waits for graphile-worker's migrations.
    const pool = new Pool({ connectionString: url, max: 2 });
    await migrateQueue(pool).finally(() => pool.end());
  });
  console.log(`# test ${database.description}, Node ${process.version}`);
  try {
    // Decorator metadata must exist before any decorated class loads, whichever a test file imports first.
    const child = spawn(
      process.execPath,
      ["--require", "reflect-metadata", "--test", `--test-concurrency=${concurrency()}`, ...process.argv.slice(2), ...testPaths()],
      {
        stdio: "inherit",
        // The suite's database is a template: each test file works on copies (test/helpers/suite-db.ts).
        env: {
          ...process.env,
          DATABASE_URL: database.url,
          CUSTODIAN_TEST: "1",
          CUSTODIAN_TEST_REGIONS: (await regionSuffixes(database.url)).join(","),
          // The runner's own embedded server does not sync: copies of files are cheap there (test/helpers/suite-db.ts).
          ...(process.env.DATABASE_URL ? {} : { CUSTODIAN_TEST_COPY_STRATEGY: "FILE_COPY" }),
        },
      },
    );
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    return await new Promise<number>((ok) => child.on("exit", (code) => ok(code ?? 1)));
  } finally {
    await database.drop();
  }
}

/** A memory file system's magic number (statfs's f_type). */
const TMPFS_MAGIC = 0x01021994;
/** What a run may write to its scratch at most: its servers' data and WAL, a few dumps. */
const SCRATCH_BYTES = 4 * 1024 ** 3;

/**
 * A fresh folder in /dev/shm for the run's scratch (the TMPDIR of the runner and of every test:
 * its embedded servers' data, dumps), when that is a memory file system with room and TMPDIR is
 * not given; else null (the system's temporary folder). Every test file copies nine databases
 * and drops them after: on this ext4 without a journal, creating a file first steps over the
 * inodes deleted in the last seconds, and a copy's 433 files took 300 ms of the server's CPU per
 * database (in memory 15 ms). Nothing here needs to outlive the run or survive a power cut.
 */
function memoryScratch(): string | null {
  if (process.env.TMPDIR) return null;
  try {
    const fs = statfsSync("/dev/shm");
    if (fs.type !== TMPFS_MAGIC || fs.bavail * fs.bsize < SCRATCH_BYTES) return null;
    const dir = mkdtempSync(join("/dev/shm", "custodian-test-run-"));
    // As /tmp is: the postgres user (the servers run as it under root) makes its own folders here.
    chmodSync(dir, 0o1777);
    return dir;
  } catch {
    return null;
  }
}

/** The region databases made beside the suite's (`<suite>_eu`, ...), by their suffix. */
async function regionSuffixes(url: string): Promise<string[]> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new Client({ connectionString: withDatabase(url, "postgres") });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${name}\\_%`]);
    return rows.map((r) => r.datname.slice(name.length + 1));
  } finally {
    await admin.end();
  }
}

const DISPOSABLE_SERVER = { fsync: "off", synchronous_commit: "off", full_page_writes: "off" };

/**
 * Test files at once (TEST_CONCURRENCY, default 1). Each file works on copies of the suite's
 * database, so files may run side by side; CI keeps one at a time per lane (its three lanes
 * already fill both cores, and some tests measure how the server answers under a deadline).
 */
function concurrency(): number {
  const given = Number(process.env.TEST_CONCURRENCY);
  return Number.isInteger(given) && given > 0 ? given : 1;
}

/** The marker of a test file that runs PostgreSQL servers of its own: which server the suite runs on does not matter to it. */
export const OWN_SERVERS_MARKER = "@own-servers";
/**
 * The marker of a test file that uses the suite's server but tests nothing of it (a browser
 * driving the explorer's page): it runs once, with the standalone files, not on each server.
 */
export const ANY_SERVER_MARKER = "@any-server";

/**
 * What node's runner is given: the test folder, or with TESTS one part of it. CI runs the suite
 * on two servers and splits it across lanes: `TESTS=server` is the files that use the suite's
 * server (run on each server); `TESTS=standalone` the rest, which no server changes: the unit
 * tests and the files marked OWN_SERVERS_MARKER (they start servers of their own) or
 * ANY_SERVER_MARKER. TEST_SHARD=k/n keeps every n-th file of that, from the k-th (files in name
 * order): n lanes with shards 1/n..n/n run the part once between them.
 */
function testPaths(): string[] {
  const root = join(__dirname, "..", "test");
  const part = process.env.TESTS ?? "all";
  if (!["all", "server", "standalone"].includes(part)) throw new Error(`TESTS must be all, server or standalone, not ${JSON.stringify(part)}`);
  const shard = testShard();
  if (part === "all" && !shard) return [root];
  const files: string[] = [];
  const walk = (dir: string, unit: boolean) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, unit || entry.name === "unit");
      else if (entry.isFile() && entry.name.endsWith(".test.js")) {
        const text = unit ? "" : readFileSync(path, "utf8");
        const standalone = unit || text.includes(OWN_SERVERS_MARKER) || text.includes(ANY_SERVER_MARKER);
        if (part === "all" || standalone === (part === "standalone")) files.push(path);
      }
    }
  };
  walk(root, false);
  files.sort();
  const chosen = shard ? files.filter((_, i) => i % shard.of === shard.index - 1) : files;
  console.log(`# TESTS=${part}${shard ? ` TEST_SHARD=${shard.index}/${shard.of}` : ""}: ${chosen.length} test files`);
  return chosen;
}

/** TEST_SHARD=k/n (1 <= k <= n), or null when unset. */
function testShard(): { index: number; of: number } | null {
  const given = process.env.TEST_SHARD;
  if (!given) return null;
  const match = /^(\d+)\/(\d+)$/.exec(given);
  const [index, of] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  if (!(of >= 1 && index >= 1 && index <= of)) throw new Error(`TEST_SHARD must be k/n with 1 <= k <= n, not ${JSON.stringify(given)}`);
  return { index, of };
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
