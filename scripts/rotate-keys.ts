import "reflect-metadata";
import { systemClock } from "../src/shared/clock";
import { runCommand } from "./command";
import { sealSecretsIn } from "../src/modules/events/webhook-secrets";

/**
 * `npm run rotate-keys -- --master` re-wraps every tenant key under the current master key
 * (MASTER_KEY at MASTER_KEY_VERSION, the old one in MASTER_KEY_PREVIOUS meanwhile), and every
 * webhook endpoint's signing secret in every database;
 * `npm run rotate-keys -- --kek` gives every tenant a new key-encryption key and re-wraps its
 * subject keys under it. Both online, batched and resumable (run again after an interruption),
 * and neither re-encrypts any data. Prints what it did, by location, as JSON.
 */
const args = process.argv.slice(2);
if (args.length === 0 || args.some((a) => a !== "--master" && a !== "--kek")) {
  console.error("usage: npm run rotate-keys -- --master and/or --kek");
  process.exit(2);
}
runCommand(async (topology, keys) => {
  const done: Record<string, unknown> = {};
  for (const region of topology.regions) {
    const keystore = region.keystore!;
    done[region.name] = {
      ...(args.includes("--master") ? { tenantKeysRewrapped: await keys.rewrapUnderMaster(keystore) } : {}),
      ...(args.includes("--kek") ? await keys.rotateKeks(keystore, systemClock.now()) : {}),
    };
  }
  // Webhook signing secrets are sealed under the master key itself, in every database (control holds the operators').
  if (args.includes("--master")) {
    for (const db of topology.all) done[db.name] = { ...(done[db.name] as object), webhookSecrets: await sealSecretsIn(db.maintenance, keys) };
  }
  console.log(JSON.stringify(done, null, 2));
  // A location whose database could not be opened was not rotated: run again.
  return topology.regions.length === topology.locations.length ? 0 : 1;
});
