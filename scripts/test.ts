import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../src/shared/logging";
import { freshDatabase } from "./fresh-database";

/**
 * Runs the suite against a real PostgreSQL that exists only for this run: with DATABASE_URL, a
 * fresh database on that server, dropped afterwards; without, an embedded server in a fresh
 * temporary directory. Migrations run once here, then node's test runner runs dist/test/.
 * Arguments are passed on to `node --test` (e.g. --test-name-pattern=tenant).
 */
async function main(): Promise<number> {
  // The suite's own embedded server is thrown away after the run: it need not survive a power
  // cut, so it does not wait for the disk (durability is tested on servers of their own).
  const database = await freshDatabase("custodian_test", createLogger(process.env.LOG_LEVEL ?? "warn"), DISPOSABLE_SERVER);
  console.log(`# test ${database.description}, Node ${process.version}`);
  try {
    // Decorator metadata must exist before any decorated class loads, whichever a test file imports first.
    const child = spawn(
      process.execPath,
      ["--require", "reflect-metadata", "--test", `--test-concurrency=${concurrency()}`, ...process.argv.slice(2), ...testPaths()],
      {
        stdio: "inherit",
        env: { ...process.env, DATABASE_URL: database.url, CUSTODIAN_TEST: "1" },
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

const DISPOSABLE_SERVER = { fsync: "off", synchronous_commit: "off", full_page_writes: "off" };

/**
 * Test files run side by side (TEST_CONCURRENCY, default 3 for the server tests and 2 for the
 * whole suite): they mostly wait on PostgreSQL, timers and child processes, and each works in
 * tenants or databases of its own. The standalone files start servers of their own: one at a time.
 */
function concurrency(): number {
  const given = Number(process.env.TEST_CONCURRENCY);
  if (Number.isInteger(given) && given > 0) return given;
  return process.env.TESTS === "standalone" ? 1 : process.env.TESTS === "server" ? 3 : 2;
}

/** The marker of a test file that runs PostgreSQL servers of its own: which server the suite runs on does not matter to it. */
export const OWN_SERVERS_MARKER = "@own-servers";

/**
 * What node's runner is given: the test folder, or with TESTS one part of it. CI runs the suite
 * on two servers and splits it across lanes: `TESTS=server` is the files that use the suite's
 * server (run on each server); `TESTS=standalone` the rest, which no server changes: the unit
 * tests and the files marked OWN_SERVERS_MARKER (they start servers of their own).
 */
function testPaths(): string[] {
  const root = join(__dirname, "..", "test");
  const part = process.env.TESTS;
  if (!part || part === "all") return [root];
  if (part !== "server" && part !== "standalone") throw new Error(`TESTS must be all, server or standalone, not ${JSON.stringify(part)}`);
  const files: string[] = [];
  const walk = (dir: string, unit: boolean) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, unit || entry.name === "unit");
      else if (entry.isFile() && entry.name.endsWith(".test.js")) {
        const standalone = unit || readFileSync(path, "utf8").includes(OWN_SERVERS_MARKER);
        if (standalone === (part === "standalone")) files.push(path);
      }
    }
  };
  walk(root, false);
  console.log(`# TESTS=${part}: ${files.length} test files`);
  return files.sort();
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
