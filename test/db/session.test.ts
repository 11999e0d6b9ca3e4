import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { em } from "../../src/shared/db/database";
import { isDatabaseUnavailable } from "../../src/shared/graphql/format-error";
import { type TestApp, principals, startTestApp, requestContext } from "../helpers/app";
import { createTenant, recordData, registerSubject } from "../helpers/factories";
import { countStatements } from "../helpers/statements";

/** The request session: one connection, one scope, a transaction per unit of work. An operator's is on control, a tenant role's on its region. */
describe("request session", () => {
  let app: TestApp;
  let tenant: { id: string };
  const contextOf = (principal: ReturnType<typeof principals.operator>) => requestContext(app, principal);
  const tenantsSeen = async (ctx: Awaited<ReturnType<typeof contextOf>>) =>
    (await em(ctx).query(`SELECT DISTINCT tenant_id FROM personal_data_record`)).map((r: { tenant_id: string }) => r.tenant_id);

  before(async () => {
    app = await startTestApp({ poolSize: 2 });
    tenant = await createTenant(app);
    const other = await createTenant(app);
    for (const t of [tenant, other]) await recordData(app, t.id, (await registerSubject(app, t.id)).id);
  });
  after(() => app.close());

  it("sends its scope with each statement, as a parameter, in that statement's round trip; leaves none on the connection", async () => {
    const { result: ctx, statements: opening } = await countStatements(() => contextOf(principals.tenantAdmin(tenant.id)));
    assert.deepEqual(opening, [], "opening costs no round trip");
    const { result: seen, statements } = await countStatements(() => tenantsSeen(ctx));
    assert.deepEqual(seen, [tenant.id]);
    assert.equal(statements.length, 1, "one round trip: the scope travels with the statement");
    await ctx.session.transaction((m) => m.query(`SELECT 1`));
    assert.deepEqual(await tenantsSeen(ctx), [tenant.id], "after a commit, still scoped");
    const [{ pid, claim }] = await em(ctx).query(`SELECT pg_backend_pid() AS pid, current_setting('custodian.scope') AS claim`);
    assert.match(claim, new RegExp(`^tenant:${tenant.id}:[0-9a-f]{64}$`), "the probe: the statement runs under the claim");
    assert.ok(!statements.some((text) => text.includes(claim)), "never in a statement's text");
    assert.deepEqual((await countStatements(() => ctx.session.close())).statements, [], "closing costs no round trip either");
    // The same backend, taken from the pool by something that is not a session, holds no claim.
    const pooled = app.appDb.createQueryRunner();
    try {
      const [row] = await pooled.query(`SELECT pg_backend_pid() AS pid, coalesce(current_setting('custodian.scope', true), '') AS scope`);
      if (row.pid === pid) assert.equal(row.scope, "", "the claim ended with its statement");
      else assert.fail("the pool of two handed out another connection: the check could not look at the session's");
    } finally {
      await pooled.release();
    }
  });

  it("holds the request's other statements back while a transaction runs, and commits it before returning", async () => {
    const ctx = await contextOf(principals.operator());
    const name = `Committed ${randomUUID()}`;
    let release!: () => void;
    const paused = new Promise<void>((ok) => (release = ok));
    const order: string[] = [];
    const first = ctx.session.transaction(async (m) => {
      await m.query(`UPDATE tenant SET name = $1 WHERE id = $2`, [name, tenant.id]);
      await paused;
    });
    while (!ctx.session.inTransaction) await new Promise((ok) => setTimeout(ok, 5));
    // Another resolver's read and another transaction, sent while the first is open.
    const read = em(ctx)
      .query(`SELECT name FROM tenant WHERE id = $1`, [tenant.id])
      .then((rows: Array<{ name: string }>) => (order.push("read"), rows[0].name));
    const second = ctx.session.transaction(async () => void order.push("second"));
    await new Promise((ok) => setTimeout(ok, 50));
    order.push("released");
    release();
    await first;
    assert.equal(await read, name, "the read ran after the commit");
    await second;
    assert.deepEqual(order.slice(0, 1), ["released"], "nothing else ran inside the open transaction");
    const [row] = await app.controlDb.query(`SELECT name FROM tenant WHERE id = $1`, [tenant.id]);
    assert.equal(row.name, name, "committed when transaction returned, before the session closed");
    await ctx.session.close();
  });

  it("says the database is unavailable when the request's connection is lost, not that something internal failed", async () => {
    const ctx = await contextOf(principals.tenantAdmin(tenant.id));
    const [{ pid }] = await em(ctx).query(`SELECT pg_backend_pid() AS pid`);
    await app.db.query(`SELECT pg_terminate_backend($1)`, [pid]);
    // The driver hears of it asynchronously and releases the connection.
    for (let waited = 0; waited < 2000 && !(em(ctx).queryRunner?.isReleased ?? false); waited += 20) await new Promise((ok) => setTimeout(ok, 20));
    await assert.rejects(tenantsSeen(ctx), (error) => isDatabaseUnavailable(error));
    // The server rolled back what was open, which held nothing acknowledged: closing just ends.
    await ctx.session.close();
  });

  it("closed while an operation is inside its transaction, keeps none of it and runs nothing after", async () => {
    const ctx = await contextOf(principals.operator());
    const name = `Unfinished ${randomUUID()}`;
    let release!: () => void;
    const paused = new Promise<void>((ok) => (release = ok));
    let backend = 0;
    const operation = ctx.session.transaction(async (manager) => {
      await manager.query(`UPDATE tenant SET name = $1 WHERE id = $2`, [name, tenant.id]);
      backend = (await manager.query(`SELECT pg_backend_pid() AS pid`))[0].pid;
      await paused;
      await manager.query(`UPDATE tenant SET updated_at = now() WHERE id = $1`, [tenant.id]);
    });
    while (!backend) await new Promise((ok) => setTimeout(ok, 5));
    await ctx.session.close();
    release();
    await assert.rejects(operation, "the operation's statements after the close are refused");
    const [row] = await app.controlDb.query(`SELECT name FROM tenant WHERE id = $1`, [tenant.id]);
    assert.notEqual(row.name, name, "nothing of the unfinished operation was committed");
    // This connection's state (other test files run side by side on the same database).
    const open = await app.controlDb.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1 AND state LIKE 'idle in transaction%'`, [backend]);
    assert.equal(open[0].n, 0, "the connection went back to the pool without a transaction");
  });

  it("refuses a statement sent once closing began, before the connection is back in the pool", async () => {
    const ctx = await contextOf(principals.operator());
    const name = `After close ${randomUUID()}`;
    await ctx.session.transaction(async () => undefined);
    const closed = ctx.session.close();
    // Sent while the close's own statements are under way: without the gate it would run, and commit, on its own.
    const late = em(ctx).query(`UPDATE tenant SET name = $1 WHERE id = $2`, [name, tenant.id]);
    await assert.rejects(late, /the request session is closed/);
    await closed;
    const [row] = await app.controlDb.query(`SELECT name FROM tenant WHERE id = $1`, [tenant.id]);
    assert.notEqual(row.name, name);
  });
});
