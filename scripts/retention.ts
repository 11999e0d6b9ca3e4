import "reflect-metadata";
import { KeyRing } from "../src/modules/keys/key-ring";
import { masterKeyProvider } from "../src/modules/keys/key-config";
import { ConfigError, loadConfig } from "../src/config";
import { AuditService } from "../src/modules/audit/audit.service";
import { openDatabases } from "../src/databases";
import { TopologyRetention } from "../src/modules/retention/topology-retention";
import type { Topology } from "../src/shared/db/topology";
import { systemClock } from "../src/shared/clock";
import { createLogger } from "../src/shared/logging";
import { configuredServer } from "./fresh-database";

/**
 * `npm run retention [-- --dry-run]`: one retention run now, on DATABASE_URL or on the embedded
 * database `npm start` uses (its running server when the API runs, else one of its own).
 * Prints what was purged (or, dry, what would be) as JSON.
 */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== "--dry-run");
  if (unknown.length) {
    console.error(`unknown argument ${unknown[0]}; usage: npm run retention [-- --dry-run]`);
    return 2;
  }
  const config = loadConfig();
  // Logs go to stderr: stdout is the run, as JSON.
  const log = createLogger(config.logLevel === "info" ? "warn" : config.logLevel, process.stderr);
  const { url, embedded } = await configuredServer(config, log);
  let topology: Topology | undefined;
  try {
    topology = await openDatabases({
      controlUrl: url,
      regionUrls: config.regionDatabaseUrls,
      appUrl: config.appDatabaseUrl,
      pool: { poolSize: 2 },
      keystore: { serverUrl: config.keystoreServerUrl, urls: config.keystoreUrls, production: config.production && !config.keystoreSameServerUnsafe },
      log,
      now: systemClock.now(),
    });
    const run = await new TopologyRetention(
      topology,
      systemClock,
      new AuditService(),
      config.auditSigner,
      new KeyRing(await masterKeyProvider(config, log)),
    ).run({ dryRun: args.includes("--dry-run") });
    console.log(JSON.stringify(run, null, 2));
    return 0;
  } finally {
    await topology?.close();
    await embedded?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
