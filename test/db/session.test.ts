import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { em } from "../../src/shared/db/database";
import { isDatabaseUnavailable } from "../../src/shared/graphql/format-error";
import { type TestApp, principals, startTestApp, requestContext } from "../helpers/app";
import { createTenant, recordData, registerSubject } from "../helpers/factories";
import { countStatements } from "../helpers/statements";

/** The request session: one connection, one scope, transactions split by checkpoints. */
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

  it("begins with its scope, sent as a parameter, and after a checkpoint only when a statement needs it", async () => {
    const { result: ctx, statements: opening } = await countStatements(() => contextOf(principals.tenantAdmin(tenant.id)));
    assert.deepEqual(opening, ["START TRANSACTION", "SELECT set_config('custodian.scope', $1, true)"]);
    await ctx.session.checkpoint();
    // The next statement begins a new transaction, with the same scope, first.
    const { result: seen, statements } = await countStatements(() => tenantsSeen(ctx));
    assert.deepEqual(seen, [tenant.id]);
    assert.deepEqual(statements.slice(0, 2), opening);
    assert.equal(statements.length, 3);
    await ctx.session.checkpoint();
    // Ending at a checkpoint leaves nothing to commit: closing takes no round trip.
    assert.equal((await countStatements(() => ctx.session.close())).statements.length, 0);
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

  it("closed while an operation is inside its savepoint, keeps none of it and runs nothing after", async () => {
    const ctx = await contextOf(principals.operator());
    const name = `Unfinished ${randomUUID()}`;
    let release!: () => void;
    const paused = new Promise<void>((ok) => (release = ok));
    const operation = em(ctx).transaction(async (manager) => {
      await manager.query(`UPDATE tenant SET name = $1 WHERE id = $2`, [name, tenant.id]);
      await paused;
      await manager.query(`UPDATE tenant SET updated_at = now() WHERE id = $1`, [tenant.id]);
    });
    while (!ctx.session.nested) await new Promise((ok) => setTimeout(ok, 5));
    await new Promise((ok) => setTimeout(ok, 50));
    await ctx.session.close();
    release();
    await assert.rejects(operation, "the operation's statements after the close are refused");
    const [row] = await app.db.query(`SELECT name FROM tenant WHERE id = $1`, [tenant.id]);
    assert.notEqual(row.name, name, "nothing of the unfinished operation was committed");
    const open = await app.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`);
    assert.equal(open[0].n, 0, "the connection went back to the pool without a transaction");
  });
});
