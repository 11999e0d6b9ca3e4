import { ConfigError, loadConfig, type Config } from "../src/config";
import { openDatabases } from "../src/databases";
import { keystoreSettings, masterKeyProvider } from "../src/modules/keys/key-config";
import { KeyRing } from "../src/modules/keys/key-ring";
import { systemClock } from "../src/shared/clock";
import type { Topology } from "../src/shared/db/topology";
import { createLogger, type Logger } from "../src/shared/logging";
import { configuredServer } from "./fresh-database";

/**
 * Runs an operator command (retention, sealing, key rotation) on the configured databases:
 * DATABASE_URL, or the embedded database `npm start` uses (its running server when the API runs,
 * else one of its own), with the configured key stores and master key. Logs go to stderr: stdout
 * is the command's result, as JSON. The process exits with `work`'s code (1 on an error).
 */
export function runCommand(work: (topology: Topology, keys: KeyRing, context: { config: Config; log: Logger }) => Promise<number>): void {
  (async () => {
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
        keystore: keystoreSettings(config),
        log,
        now: systemClock.now(),
      });
      return await work(topology, new KeyRing(await masterKeyProvider(config, log)), { config, log });
    } finally {
      await topology?.close();
      await embedded?.stop();
    }
  })().then(
    (code) => process.exit(code),
    (error) => {
      console.error(error instanceof ConfigError ? error.message : error);
      process.exit(1);
    },
  );
}
