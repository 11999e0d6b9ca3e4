import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createRequestContext, type RequestContext } from "../src/context";
import { PersonalDataRecordEntity } from "../src/modules/personal-data/personal-data-record.entity";
import { em } from "../src/shared/db/database";
import { createLogger } from "../src/shared/logging";
import { type TestApp, principals, startTestApp } from "./helpers/app";
import { createTenant, recordData, registerSubject } from "./helpers/factories";

/** Issue 8, point 3: row-level security holds even where the application's own filter is missing. */
describe("row-level security (issue 8, point 3)", () => {
  let app: TestApp;
  let a: { id: string };
  let b: { id: string };
  const open: RequestContext[] = [];
  const contextOf = async (principal: ReturnType<typeof principals.operator>) => {
    const ctx = await createRequestContext({ db: app.appDb, clock: app.clock, log: createLogger("silent") }, principal, randomUUID());
    open.push(ctx);
    return ctx;
  };

  before(async () => {
    app = await startTestApp({ poolSize: 1 });
    a = await createTenant(app);
    b = await createTenant(app);
    for (const t of [a, b]) await recordData(app, t.id, (await registerSubject(app, t.id)).id);
  });
  after(async () => {
    for (const ctx of open) await ctx.session.close().catch(() => undefined);
    await app.close();
  });

  it("runs the service's queries as a role that owns no table and cannot bypass RLS", async () => {
    const ctx = await contextOf(principals.operator());
    const [role] = await em(ctx).query(
      `SELECT current_user AS name, r.rolsuper, r.rolbypassrls, (SELECT count(*)::int FROM pg_tables WHERE tableowner = current_user) AS owned
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    assert.deepEqual(role, { name: "custodian_app", rolsuper: false, rolbypassrls: false, owned: 0 });
    await ctx.session.close();
  });

  it("enables and forces RLS on every table with a tenant_id (a new one cannot be forgotten)", async () => {
    const rows: Array<{ table_name: string; rls: boolean; forced: boolean }> = await app.db.query(
      `SELECT c.table_name, k.relrowsecurity AS rls, k.relforcerowsecurity AS forced
         FROM information_schema.columns c JOIN pg_class k ON k.relname = c.table_name AND k.relkind = 'r'
        WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' ORDER BY 1`,
    );
    assert.ok(rows.length >= 9);
    for (const row of rows) assert.deepEqual([row.table_name, row.rls, row.forced], [row.table_name, true, true]);
  });

  it("shows a tenant's request only its tenant's rows, even in raw SQL with no tenant filter", async () => {
    const ctx = await contextOf(principals.tenantAdmin(a.id));
    const tenants = (await em(ctx).query(`SELECT DISTINCT tenant_id FROM personal_data_record`)).map((r: { tenant_id: string }) => r.tenant_id);
    assert.deepEqual(tenants, [a.id]);
    assert.deepEqual(await em(ctx).query(`SELECT id FROM data_subject WHERE tenant_id = $1`, [b.id]), []);
    assert.deepEqual((await em(ctx).query(`SELECT id FROM tenant`)).map((r: { id: string }) => r.id), [a.id]);
    // The application's own filter removed: the repository without any WHERE still sees only A.
    const all = await em(ctx).getRepository(PersonalDataRecordEntity).find();
    assert.ok(all.length > 0 && all.every((r) => r.tenantId === a.id));
    assert.deepEqual(await em(ctx).query(`SELECT id FROM audit_log WHERE tenant_id = $1`, [b.id]), []);
    // Writing into B is refused by the policy too.
    await assert.rejects(em(ctx).query(`UPDATE personal_data_record SET version = version + 1 WHERE tenant_id = $1 RETURNING id`, [b.id]).then((r) => {
      if ((Array.isArray(r[0]) ? r[0] : r).length === 0) throw new Error("no row of B is visible to update");
    }), /no row of B/);
    await ctx.session.checkpoint();
    assert.deepEqual((await em(ctx).query(`SELECT DISTINCT tenant_id FROM personal_data_record`)).map((r: { tenant_id: string }) => r.tenant_id), [a.id], "the scope survives a checkpoint");
    await ctx.session.close();
  });

  it("keeps the scope transaction-local: the next request on the same pooled connection starts clean", async () => {
    const first = await contextOf(principals.tenantAdmin(a.id));
    await first.session.close();
    const partner = await contextOf(principals.partner());
    assert.deepEqual(await em(partner).query(`SELECT id FROM personal_data_record`), [], "a partner sees no tenant's rows");
    await partner.session.close();
    const operator = await contextOf(principals.operator());
    const seen = new Set((await em(operator).query(`SELECT tenant_id FROM personal_data_record`)).map((r: { tenant_id: string }) => r.tenant_id));
    assert.ok(seen.has(a.id) && seen.has(b.id), "operators span tenants, explicitly");
    await operator.session.close();
  });
});
