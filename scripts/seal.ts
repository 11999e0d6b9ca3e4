import "reflect-metadata";
import { KeyRing } from "../src/modules/keys/key-ring";
import { masterKeyProvider } from "../src/modules/keys/key-config";
import { ConfigError, loadConfig } from "../src/config";
import { openDatabases } from "../src/databases";
import { sealExisting } from "../src/sealing";
import type { Topology } from "../src/shared/db/topology";
import { systemClock } from "../src/shared/clock";
import { createLogger } from "../src/shared/logging";
import { configuredServer } from "./fresh-database";

/**
 * `npm run seal`: seals the personal data written before sealing existed, now, on DATABASE_URL or
 * on the embedded database `npm start` uses (the API also does it at start, in the background).
 * Resumable; prints what it sealed and the plaintext left (0 when done) as JSON, and exits 1
 * while any is left.
 */
async function main(): Promise<number> {
  const config = loadConfig();
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
    const keys = new KeyRing(await masterKeyProvider(config, log));
    const run = await sealExisting(topology, keys, () => systemClock.now(), { log });
    console.log(JSON.stringify(run, null, 2));
    const left = Object.values(run.plaintextLeft).reduce((a, b) => a + b, 0);
    return left === 0 && Object.keys(run.plaintextLeft).length === topology.locations.length ? 0 : 1;
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
