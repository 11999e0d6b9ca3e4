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
  const database = await freshDatabase("custodian_test", createLogger(process.env.LOG_LEVEL ?? "warn"));
  console.log(`# test ${database.description}, Node ${process.version}`);
  try {
    // Decorator metadata must exist before any decorated class loads, whichever a test file imports first.
    const child = spawn(process.execPath, ["--require", "reflect-metadata", "--test", ...process.argv.slice(2), ...testPaths()], {
      stdio: "inherit",
      env: { ...process.env, DATABASE_URL: database.url, CUSTODIAN_TEST: "1" },
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    return await new Promise<number>((ok) => child.on("exit", (code) => ok(code ?? 1)));
  } finally {
    await database.drop();
  }
}

/** The marker of a test file that runs PostgreSQL servers of its own: which server the suite runs on does not matter to it. */
export const OWN_SERVERS_MARKER = "@own-servers";

/**
 * What node's runner is given: the test folder; or, with SERVER_TESTS_ONLY=1, only the test
 * files that use the suite's server. CI runs the suite on two servers and sets it for the second
 * run: unit tests and the files marked OWN_SERVERS_MARKER (they start servers of their own) would
 * only repeat the first run's work.
 */
function testPaths(): string[] {
  const root = join(__dirname, "..", "test");
  if (process.env.SERVER_TESTS_ONLY !== "1") return [root];
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== "unit") walk(path);
      else if (entry.isFile() && entry.name.endsWith(".test.js") && !readFileSync(path, "utf8").includes(OWN_SERVERS_MARKER)) files.push(path);
    }
  };
  walk(root);
  console.log(`# SERVER_TESTS_ONLY: ${files.length} test files that use the suite's server (no unit tests, none marked ${OWN_SERVERS_MARKER})`);
  return files.sort();
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
