import "reflect-metadata";
import { KeyRing } from "../src/modules/keys/key-ring";
import { masterKeyProvider } from "../src/modules/keys/key-config";
import { ConfigError, loadConfig } from "../src/config";
import { openDatabases } from "../src/databases";
import type { Topology } from "../src/shared/db/topology";
import { systemClock } from "../src/shared/clock";
import { createLogger } from "../src/shared/logging";
import { configuredServer } from "./fresh-database";

/**
 * `npm run rotate-keys -- --master` re-wraps every tenant key under the current master key
 * (MASTER_KEY at MASTER_KEY_VERSION, the old one in MASTER_KEY_PREVIOUS meanwhile);
 * `npm run rotate-keys -- --kek` gives every tenant a new key-encryption key and re-wraps its
 * subject keys under it. Both online, batched and resumable (run again after an interruption),
 * and neither re-encrypts any data. Prints what it did, by location, as JSON.
 */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== "--master" && a !== "--kek");
  if (unknown.length || args.length === 0) {
    console.error("usage: npm run rotate-keys -- --master and/or --kek");
    return 2;
  }
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
    const done: Record<string, unknown> = {};
    for (const region of topology.regions) {
      const keystore = region.keystore!;
      done[region.name] = {
        ...(args.includes("--master") ? { tenantKeysRewrapped: await keys.rewrapUnderMaster(keystore) } : {}),
        ...(args.includes("--kek") ? await keys.rotateKeks(keystore, systemClock.now()) : {}),
      };
    }
    console.log(JSON.stringify(done, null, 2));
    return topology.regions.length === topology.locations.length ? 0 : 1;
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
