import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { createDataSource } from "../../ormconfig";
import { seedStorageLocations } from "../../src/modules/storage-location/storage-location.service";
import { migrate } from "../../src/shared/db/migrate";

/**
 * A database of its own on the suite's server, for tests whose assertions are about the whole
 * database (a retention run purges whatever is due, in every tenant). Dropped by `drop`.
 */
export async function isolatedDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error("DATABASE_URL is not set: run the suite with `npm test`");
  const name = `custodian_iso_${randomBytes(4).toString("hex")}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = createDataSource(url.toString(), { poolSize: 2 }); // migrate holds one connection for its lock
  await db.initialize();
  await migrate(db);
  await seedStorageLocations(db, new Date());
  await db.destroy();
  return {
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
