import "reflect-metadata";
import { AuditService } from "../src/modules/audit/audit.service";
import { TopologyRetention } from "../src/modules/retention/topology-retention";
import { systemClock } from "../src/shared/clock";
import { runCommand } from "./command";

/**
 * `npm run retention [-- --dry-run]`: one retention run now, on DATABASE_URL or on the embedded
 * database `npm start` uses (its running server when the API runs, else one of its own).
 * Prints what was purged (or, dry, what would be) as JSON.
 */
const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--dry-run");
if (unknown.length) {
  console.error(`unknown argument ${unknown[0]}; usage: npm run retention [-- --dry-run]`);
  process.exit(2);
}
runCommand(async (topology, keys, { config }) => {
  const run = await new TopologyRetention(topology, systemClock, new AuditService(), config.auditSigner, keys).run({ dryRun: args.includes("--dry-run") });
  console.log(JSON.stringify(run, null, 2));
  return 0;
});
