import "reflect-metadata";
import { sealExisting } from "../src/sealing";
import { systemClock } from "../src/shared/clock";
import { runCommand } from "./command";

/**
 * `npm run seal`: seals the personal data written before sealing existed, now, on DATABASE_URL or
 * on the embedded database `npm start` uses (the API also does it at start, in the background).
 * Resumable; prints what it sealed and the plaintext left (0 when done) as JSON, and exits 1
 * while any is left.
 */
runCommand(async (topology, keys, { log }) => {
  const run = await sealExisting(topology, keys, () => systemClock.now(), { log });
  console.log(JSON.stringify(run, null, 2));
  const left = Object.values(run.plaintextLeft).reduce((a, b) => a + b, 0);
  return left === 0 && Object.keys(run.plaintextLeft).length === topology.locations.length ? 0 : 1;
});
