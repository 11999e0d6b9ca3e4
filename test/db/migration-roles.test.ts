import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "pg";
import { createDataSource } from "../../ormconfig";
import { migrate } from "../../src/shared/db/migrate";
import { ensureDatabase, withDatabase } from "../../src/shared/db/topology";
import { startCluster, type Cluster } from "../helpers/pg15-cluster";

/** @own-servers: a fresh PostgreSQL 15 cluster, where the service's roles do not exist yet. */
describe("migrations on a fresh server: roles belong to the server, not to one database", () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster("roles");
  });
  after(async () => {
    await cluster?.destroy();
  });

  it("migrates a database while another database's migration creates the same role, and ends with the role as wanted", async () => {
    // The other migration, caught between creating the role and committing.
    const other = new Client({ connectionString: cluster.url });
    await other.connect();
    await other.query("BEGIN");
    await other.query("CREATE ROLE custodian_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE");
    const watch = new Client({ connectionString: cluster.url });
    await watch.connect();

    await ensureDatabase(cluster.url, "one");
    const db = createDataSource(withDatabase(cluster.url, "one"), { timeouts: false, poolSize: 2 });
    await db.initialize();
    try {
      const migrating = migrate(db);
      // Ours waits on the role the other has not committed yet (the unique index on role names).
      // Watched from a connection of its own: a transaction sees one snapshot of the activity.
      for (let waited = 0; ; waited += 50) {
        const { rowCount } = await watch.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = 'one' AND wait_event_type = 'Lock' AND query LIKE '%CREATE ROLE custodian_app%'`,
        );
        if (rowCount) break;
        assert.ok(waited < 30_000, "the migration never reached the role");
        await new Promise((ok) => setTimeout(ok, 50));
      }
      await other.query("COMMIT");

      const applied = await migrating;
      assert.ok(applied.length > 0, "every migration applied");
      const [role]: Array<{ rolcanlogin: boolean }> = await db.query(`SELECT rolcanlogin FROM pg_roles WHERE rolname = 'custodian_app'`);
      assert.equal(role.rolcanlogin, true, "the later migration still made the role a login role");
    } finally {
      await db.destroy();
      await other.end();
      await watch.end();
    }
  });
});
