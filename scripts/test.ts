import { spawn } from "node:child_process";
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
    const child = spawn(process.execPath, ["--require", "reflect-metadata", "--test", ...process.argv.slice(2), join(__dirname, "..", "test")], {
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

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
