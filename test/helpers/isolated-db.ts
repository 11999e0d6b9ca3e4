import { randomBytes } from "node:crypto";
import { createDatabaseOn, migrateAndSeed } from "../../scripts/fresh-database";
import { copyOfSuiteDatabase } from "./suite-db";

/**
 * A database of its own on the suite's server, for tests whose assertions are about the whole
 * database (a retention run purges whatever is due, in every tenant). Dropped by `drop`.
 */
export async function isolatedDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error("DATABASE_URL is not set: run the suite with `npm test`");
  // Under the runner, a copy of its migrated template; by hand, migrated here.
  if (process.env.CUSTODIAN_TEST_REGIONS !== undefined) return copyOfSuiteDatabase("iso");
  const created = await createDatabaseOn(serverUrl, `custodian_iso_${randomBytes(4).toString("hex")}`);
  await migrateAndSeed(created.url);
  return created;
}
