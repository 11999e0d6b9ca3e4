import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rowScopeOf } from "../../src/context";
import { preparedQuery } from "../../src/shared/db/database";
import { RequestSession } from "../../src/shared/db/session";
import { formatError } from "../../src/shared/graphql/format-error";
import { type TestApp, principals, startTestApp } from "../helpers/app";
import { createTenant, registerSubject } from "../helpers/factories";

/**
 * A request session's connection sends the scope claim in each statement's own round trip. What
 * must hold around that: errors are the statement's and leave the connection usable, transactions
 * and prepared statements behave as on any connection, and the claim is never in a statement's text.
 */
describe("a request pool's connection", () => {
  let app: TestApp;
  let tenant: { id: string };
  let session: RequestSession;
  const subjectTenants = async () =>
    (await session.manager.query(`SELECT DISTINCT tenant_id FROM data_subject`)).map((r: { tenant_id: string }) => r.tenant_id);

  before(async () => {
    app = await startTestApp({ poolSize: 1 });
    tenant = await createTenant(app);
    const other = await createTenant(app);
    for (const t of [tenant, other]) await registerSubject(app, t.id);
  });
  after(() => app.close());

  const open = async () => (session = await RequestSession.open(app.appDb, rowScopeOf(principals.tenantAdmin(tenant.id)), "test"));
  const close = () => session.close();

  it("reports a failing statement as its own and goes on with the next, still scoped", async () => {
    await open();
    try {
      await assert.rejects(session.manager.query(`SELECT 1/0`), /division by zero/);
      await assert.rejects(session.manager.query(`SELECT no_such_column FROM tenant`), /no_such_column/);
      assert.deepEqual(await subjectTenants(), [tenant.id]);
    } finally {
      await close();
    }
  });

  it("keeps a transaction's statements scoped, and rolls back after a failure inside it", async () => {
    await open();
    try {
      await assert.rejects(
        session.transaction(async (m) => {
          assert.deepEqual(
            (await m.query(`SELECT DISTINCT tenant_id FROM data_subject`)).map((r: { tenant_id: string }) => r.tenant_id),
            [tenant.id],
          );
          await m.query(`UPDATE tenant SET name = 'Rolled back' WHERE id = $1`, [tenant.id]);
          await m.query(`SELECT 1/0`);
        }),
        /division by zero/,
      );
      const [row] = await session.manager.query(`SELECT name FROM tenant WHERE id = $1`, [tenant.id]);
      assert.notEqual(row.name, "Rolled back");
    } finally {
      await close();
    }
  });

  it("parses a named statement once per connection, and recovers from one that does not parse", async () => {
    await open();
    try {
      const text = `SELECT count(*)::int AS n FROM data_subject WHERE tenant_id = $1`;
      for (let i = 0; i < 3; i++) assert.deepEqual(await preparedQuery(session.manager, text, [tenant.id]), [{ n: 1 }]);
      await assert.rejects(preparedQuery(session.manager, `SELEC nothing`, []), /syntax error/);
      await assert.rejects(preparedQuery(session.manager, `SELEC nothing`, []), /syntax error/, "parsed again, not taken as prepared");
      assert.deepEqual(await preparedQuery(session.manager, text, [tenant.id]), [{ n: 1 }]);
    } finally {
      await close();
    }
  });

  it("plans a named statement once per connection, and leaves every other statement's plan to PostgreSQL", async () => {
    await open();
    try {
      const text = `SELECT count(*)::int AS n FROM data_subject WHERE tenant_id = $1 AND created_at > $2`;
      const plans = async () =>
        (
          await session.manager.query(
            `SELECT generic_plans::int AS generic, custom_plans::int AS custom, current_setting('plan_cache_mode') AS mode FROM pg_prepared_statements WHERE statement = $1`,
            [text],
          )
        )[0];
      assert.deepEqual(await preparedQuery(session.manager, text, [tenant.id, new Date(0)]), [{ n: 1 }]);
      // Left to PostgreSQL, its first five calls would each have been planned for their values.
      assert.deepEqual(await plans(), { generic: 1, custom: 0, mode: "auto" }, "the next statement is planned as PostgreSQL chooses");
      for (let i = 0; i < 6; i++) await preparedQuery(session.manager, text, [tenant.id, new Date(i)]);
      assert.deepEqual(await plans(), { generic: 7, custom: 0, mode: "auto" });
    } finally {
      await close();
    }
  });

  it("fails naming its database once its connection is lost: that location's outage, retryable", async () => {
    await open();
    try {
      const [{ pid }] = await session.manager.query(`SELECT pg_backend_pid() AS pid`);
      await app.db.query(`SELECT pg_terminate_backend($1)`, [pid]);
      // TypeORM releases a runner whose connection reported an error, and refuses its statements
      // from then on, before sending them: the case of a request whose session opened just before.
      for (let i = 0; i < 500 && !session.manager.queryRunner?.isReleased; i++) await new Promise((ok) => setTimeout(ok, 10));
      assert.ok(session.manager.queryRunner?.isReleased, "the probe: the connection's loss was seen");
      const error = await session.manager.query(`SELECT 1`).then(
        () => assert.fail("a statement ran on a lost connection"),
        (e: unknown) => e,
      );
      const formatted = formatError({ message: "x" }, error, { debug: false });
      assert.equal(formatted.extensions?.storageLocation, "EU", JSON.stringify(formatted));
      assert.equal(formatted.extensions?.retryable, true);
      assert.match(formatted.message, /EU storage location's database is unavailable/);
    } finally {
      await close();
    }
    // The pool replaced the connection: the next session works.
    await open();
    try {
      assert.deepEqual(await subjectTenants(), [tenant.id]);
    } finally {
      await close();
    }
  });

  it("names the location when a statement of its key store loses its connection, as its data's do", async () => {
    const keystore = app.topology.database("EU")!.keystore!;
    const error = await keystore.manager.query(`SELECT pg_terminate_backend(pg_backend_pid())`).then(
      () => assert.fail("the statement outlived its backend"),
      (e: unknown) => e,
    );
    const formatted = formatError({ message: "x" }, error, { debug: false });
    assert.equal(formatted.extensions?.storageLocation, "EU", JSON.stringify(formatted));
    assert.equal(formatted.extensions?.retryable, true);
  });

  it("never shows the claim in the statement's text (pg_stat_activity)", async () => {
    await open();
    try {
      const [{ pid, claim }] = await session.manager.query(`SELECT pg_backend_pid() AS pid, current_setting('custodian.scope') AS claim`);
      assert.ok(claim.length > 64, "the probe: the statement ran under the claim");
      const sleeping = session.manager.query(`SELECT pg_sleep(0.3)`);
      let seen: string | undefined;
      for (let i = 0; i < 50 && !seen?.includes("pg_sleep"); i++) {
        [{ query: seen }] = await app.db.query(`SELECT query FROM pg_stat_activity WHERE pid = $1`, [pid]);
        await new Promise((ok) => setTimeout(ok, 10));
      }
      await sleeping;
      assert.match(seen ?? "", /pg_sleep/, "the probe: the activity view shows the running statement");
      assert.ok(!seen!.includes(claim.split(":")[2]));
    } finally {
      await close();
    }
  });
});
