import { associatedData, newKey, seal, wrapKey } from "../src/modules/keys/envelope";
import { intFromEnv } from "./lib";

/**
 * What sealing one ingested record costs the API's thread, without any I/O: its value sealed
 * under a new data key (AES-256-GCM from node:crypto), and that key wrapped under its subject's
 * key, each bound to its row. `npm run bench:cipher`; CIPHER_OPERATIONS (100,000) per measure,
 * three measures each. The ingest goal allows a row about 15% of what the API spent per row
 * before values were sealed (bench/README.md, Ingest): compare the last line with that.
 */
function timeUs(operations: number, work: (i: number) => unknown): number {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < operations; i++) sink += (work(i) as Buffer).length;
  const us = Number(process.hrtime.bigint() - started) / 1000 / operations;
  if (sink === 0) throw new Error("nothing was sealed");
  return us;
}

function main() {
  const operations = intFromEnv("CIPHER_OPERATIONS", 100_000);
  const subjectKey = newKey();
  const ids = ["7e4a0000-0000-4000-8000-00000000000a", "7e4a0000-0000-4000-8000-00000000000b", "7e4a0000-0000-4000-8000-00000000000c"];
  // The ingest bench's value: about 90 bytes of JSON.
  const value = Buffer.from(JSON.stringify({ serialNumber: "SN-00000042", model: "Laptop 14", osVersion: "14.4.1", compliant: true }));
  const keys = Array.from({ length: 1024 }, () => newKey());
  const sealValue = (i: number) => seal(keys[i & 1023], value, associatedData("record", ids, 1));
  const wrap = (i: number) => wrapKey(subjectKey, keys[i & 1023], associatedData("record-key", ids, 1));
  const row = (i: number) => (sealValue(i), wrap(i));
  // A warm-up first, then three measures of each.
  timeUs(operations, row);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1];
  const measure = (work: (i: number) => unknown) => median([timeUs(operations, work), timeUs(operations, work), timeUs(operations, work)]);
  const [v, w, r] = [measure(sealValue), measure(wrap), measure(row)];
  console.log(`# ${operations} operations per measure, median of three, Node ${process.version}`);
  for (const [what, us] of [
    [`value sealed (${value.length} bytes)`, v],
    ["data key wrapped", w],
    ["a record (both)", r],
  ] as const)
    console.log(`${what.padEnd(28)}${us.toFixed(2)} us`);
}

main();
