import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { onControl, onLocation, rowScopeOf, type RequestContext } from "../../src/context";
import { ALL_TENANTS, RequestSession } from "../../src/shared/db/session";
import { scopeClaim, scopeKeyOf } from "../../src/shared/db/scope-claim";
import { PersonalDataRecordEntity } from "../../src/modules/personal-data/personal-data-record.entity";
import { em } from "../../src/shared/db/database";
import { openRequestPool } from "../../src/shared/db/pools";
import { DEFAULT_LOCATION, type TestApp, principals, startTestApp, requestContext } from "../helpers/app";
import { createTenant, recordData, registerSubject } from "../helpers/factories";

/** Row-level security holds even where the application's own filter is missing. */
describe("row-level security", () => {
  let app: TestApp;
  let a: { id: string };
  let b: { id: string };
  // On the region where the tenants' rows are (a tenant role's request starts there; an operator's on control).
  const contextOf = async (principal: ReturnType<typeof principals.operator>) => onLocation(await requestContext(app, principal), DEFAULT_LOCATION);

  before(async () => {
    app = await startTestApp({ poolSize: 1 });
    a = await createTenant(app);
    b = await createTenant(app);
    for (const t of [a, b]) await recordData(app, t.id, (await registerSubject(app, t.id)).id);
  });
  after(() => app.close());

  it("runs the service's queries as a role that owns no table and cannot bypass RLS", async () => {
    const ctx = await contextOf(principals.operator());
    const [role] = await em(ctx).query(
      `SELECT current_user AS name, r.rolsuper, r.rolbypassrls, (SELECT count(*)::int FROM pg_tables WHERE tableowner = current_user) AS owned
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    assert.deepEqual(role, { name: "custodian_app", rolsuper: false, rolbypassrls: false, owned: 0 });
    await ctx.unit.close();
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

  it("lets rows through without a scope claim only to maintenance, to reference data's readers and to the owner's triggers", async () => {
    // Policies are permissive: one granted to every role (or to the request role) with no claim in
    // it would open its table to every request. Besides maintenance's, only reference data's reads
    // and the owner's own: the triggers that keep the tally and that write an event's deliveries
    // (under FORCE ROW LEVEL SECURITY when the owner is no superuser, maintenance's events would
    // otherwise fail the claim's check).
    const rows: Array<{ table: string; policy: string; role: string; owner: string; command: string }> = await app.db.query(
      `SELECT p.tablename AS table, p.policyname AS policy, r AS role, t.tableowner AS owner, p.cmd AS command
         FROM pg_policies p JOIN pg_tables t ON t.schemaname = p.schemaname AND t.tablename = p.tablename, unnest(p.roles) AS r
        WHERE p.schemaname = 'public' AND (p.qual IS NULL OR p.qual NOT LIKE '%custodian_%') AND (p.with_check IS NULL OR p.with_check NOT LIKE '%custodian_%')`,
    );
    const unclaimed = rows.filter((r) => r.role !== "custodian_maintenance");
    assert.deepEqual(unclaimed.map((r) => [r.table, r.policy, r.command, r.role === r.owner]).sort(), [
      ["personal_data_record_tally", "kept_by_triggers", "ALL", true],
      // Reference data: read by every role, written under the operators' scope.
      ["storage_location", "shared_read", "SELECT", false],
      ["subprocessor_list", "shared_read", "SELECT", false],
      ["subprocessor_list_change", "shared_read", "SELECT", false],
      ["third_party", "shared_read", "SELECT", false],
      ["webhook_delivery", "outbox_fan_out", "INSERT", true],
      ["webhook_endpoint", "outbox_fan_out", "SELECT", true],
    ]);
    assert.ok(rows.length > unclaimed.length, "the probe finds maintenance's policies too");
  });

  it("shows a tenant's request only its tenant's rows, even in raw SQL with no tenant filter", async () => {
    const ctx = await contextOf(principals.tenantAdmin(a.id));
    const tenants = (await em(ctx).query(`SELECT DISTINCT tenant_id FROM personal_data_record`)).map((r: { tenant_id: string }) => r.tenant_id);
    assert.deepEqual(tenants, [a.id]);
    assert.deepEqual(await em(ctx).query(`SELECT id FROM data_subject WHERE tenant_id = $1`, [b.id]), []);
    assert.deepEqual(
      (await em(ctx).query(`SELECT id FROM tenant`)).map((r: { id: string }) => r.id),
      [a.id],
    );
    // The application's own filter removed: the repository without any WHERE still sees only A.
    const all = await em(ctx).getRepository(PersonalDataRecordEntity).find();
    assert.ok(all.length > 0 && all.every((r) => r.tenantId === a.id));
    assert.deepEqual(await em(ctx).query(`SELECT id FROM audit_log WHERE tenant_id = $1`, [b.id]), []);
    // Writing into B is refused by the policy too.
    await assert.rejects(
      em(ctx)
        .query(`UPDATE personal_data_record SET version = version + 1 WHERE tenant_id = $1 RETURNING id`, [b.id])
        .then((r) => {
          if ((Array.isArray(r[0]) ? r[0] : r).length === 0) throw new Error("no row of B is visible to update");
        }),
      /no row of B/,
    );
    await ctx.session.transaction((m) => m.query(`SELECT 1`));
    assert.deepEqual(
      (await em(ctx).query(`SELECT DISTINCT tenant_id FROM personal_data_record`)).map((r: { tenant_id: string }) => r.tenant_id),
      [a.id],
      "the scope survives a commit",
    );
    await ctx.unit.close();
  });

  it("leaves no scope behind: the next request on the same pooled connection starts clean", async () => {
    const first = await contextOf(principals.tenantAdmin(a.id));
    await first.unit.close();
    const partner = await contextOf(principals.partner());
    assert.deepEqual(await em(partner).query(`SELECT id FROM personal_data_record`), [], "a partner sees no tenant's rows");
    await partner.unit.close();
    const operator = await contextOf(principals.operator());
    const seen = new Set((await em(operator).query(`SELECT tenant_id FROM personal_data_record`)).map((r: { tenant_id: string }) => r.tenant_id));
    assert.ok(seen.has(a.id) && seen.has(b.id), "operators span tenants, explicitly");
    await operator.unit.close();
  });

  describe("what a request's session cannot do, whatever SQL it runs", () => {
    /**
     * Runs `sql` in a fresh session of `principal`, on the default region or on control (where the
     * operators' chain and incidents are: a region's residency guard would refuse them first); the
     * session is closed (rolled back if it failed).
     */
    const inSession = async <T>(
      principal: ReturnType<typeof principals.operator>,
      work: (ctx: RequestContext) => Promise<T>,
      on: "region" | "control" = "region",
    ): Promise<T> => {
      const ctx = on === "control" ? await onControl(await requestContext(app, principal)) : await contextOf(principal);
      try {
        return await work(ctx);
      } finally {
        await ctx.unit.close().catch(() => undefined);
      }
    };
    const count = async (ctx: RequestContext, table: string) => (await em(ctx).query(`SELECT count(*)::int AS n FROM ${table}`))[0].n as number;

    it("logs in as custodian_app, a member of no role: it cannot become the owner or maintenance", async () => {
      await inSession(principals.operator(), async (ctx) => {
        const [who] = await em(ctx).query(
          `SELECT session_user AS login, (SELECT count(*)::int FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = session_user) AS memberships`,
        );
        assert.deepEqual(who, { login: "custodian_app", memberships: 0 });
        await em(ctx).query("RESET ROLE");
        assert.equal((await em(ctx).query("SELECT current_user AS u"))[0].u, "custodian_app", "RESET ROLE gives nothing back");
      });
      for (const role of ["postgres", "custodian_maintenance"]) {
        await assert.rejects(
          inSession(principals.operator(), (ctx) => em(ctx).query(`SET ROLE ${role}`)),
          /permission denied/,
          role,
        );
      }
    });

    it("cannot widen its scope by writing the setting: a forged or copied claim shows no rows", async () => {
      // The probe: the operator's own claim, in its own session, shows both tenants' subjects.
      const operatorClaim = await inSession(principals.operator(), async (ctx) => {
        assert.ok((await count(ctx, "data_subject")) >= 2);
        return (await em(ctx).query(`SELECT current_setting('custodian.scope') AS c`))[0].c as string;
      });
      const [kind, , proof] = operatorClaim.split(":");
      assert.equal(kind, "all");
      const forgeries = ["all", `all::${"0".repeat(64)}`, `tenant:${b.id}:${proof}`, operatorClaim];
      // The operator's exact claim is its connection's: this pool's one connection made it, so the
      // forgeries run on a connection of a second pool.
      const other = await openRequestPool(app.db, app.region().url, { poolSize: 1 });
      try {
        // A connection of the request role that writes the setting itself (no session gives it a claim).
        const runner = other.createQueryRunner();
        try {
          for (const forged of forgeries) {
            await runner.query(`SELECT set_config('custodian.scope', $1, false)`, [forged]);
            assert.equal((await runner.query(`SELECT count(*)::int AS n FROM personal_data_record`))[0].n, 0, `${forged.slice(0, 12)}…`);
            assert.equal((await runner.query(`SELECT count(*)::int AS n FROM tenant`))[0].n, 0);
          }
        } finally {
          await runner.release();
        }
        // Inside a session, even a claim that verifies on its connection, written by a statement,
        // does not widen what the next one sees: each statement carries the session's own claim.
        const session = await RequestSession.open(other, rowScopeOf(principals.tenantAdmin(a.id)), "forger");
        const ctx = { tx: session.manager } as RequestContext;
        const subjectsOf = async (run: (sql: string) => Promise<Array<{ tenant_id: string }>>) =>
          (await run(`SELECT DISTINCT tenant_id FROM data_subject ORDER BY tenant_id`)).map((r) => r.tenant_id);
        try {
          const [{ pid }] = await em(ctx).query(`SELECT pg_backend_pid() AS pid`);
          await em(ctx).query(`SELECT set_config('custodian.scope', $1, false)`, [scopeClaim(scopeKeyOf(other), ALL_TENANTS, pid)]);
          assert.deepEqual(await subjectsOf((sql) => em(ctx).query(sql)), [a.id]);
        } finally {
          await session.close();
        }
        // The probe: that claim does verify there, for whoever runs without a session's claim.
        const after = other.createQueryRunner();
        try {
          assert.ok((await subjectsOf((sql) => after.query(sql))).includes(b.id));
        } finally {
          await after.release();
        }
      } finally {
        await other.destroy();
      }
    });

    it("cannot put an entry into another tenant's chain, or anything but a refusal into the operators' chain", async () => {
      const insert = (tenantId: string | null, outcome: "ALLOWED" | "DENIED") => (ctx: RequestContext) =>
        em(ctx).query(
          `INSERT INTO audit_log (tenant_id, occurred_at, actor, actor_role, action, outcome, error_code) VALUES ($1, now(), 'forger', 'TENANT_ADMIN', 'CONSENT_GRANTED', $2, $3)`,
          [tenantId, outcome, outcome === "DENIED" ? "FORBIDDEN" : null],
        );
      const refused = /row-level security/;
      await assert.rejects(inSession(principals.partner(), insert(b.id, "ALLOWED")), refused);
      await assert.rejects(inSession(principals.partner(), insert(b.id, "DENIED")), refused);
      await assert.rejects(inSession(principals.tenantAdmin(a.id), insert(b.id, "ALLOWED")), refused);
      await assert.rejects(inSession(principals.partner(), insert(null, "ALLOWED"), "control"), refused);
      // What the policy is for: a partner's refusal in the operators' chain, a tenant's in its own.
      await inSession(principals.partner(), insert(null, "DENIED"), "control");
      await inSession(principals.tenantAdmin(a.id), insert(a.id, "ALLOWED"));
    });

    it("cannot delete audit entries, move a chain's head, or write reference data and incidents", async () => {
      const [entry] = await app.db.query(`SELECT id FROM audit_log WHERE tenant_id = $1 LIMIT 1`, [a.id]);
      const party = randomUUID();
      await app.db.query(`INSERT INTO third_party (id, name, role, created_at, updated_at) VALUES ($1, $2, 'INDEPENDENT', now(), now())`, [
        party,
        `Probe ${party}`,
      ]);
      // The probe: an operator may change it (one row).
      await inSession(principals.operator(), async (ctx) => {
        const result = await em(ctx).query(`UPDATE third_party SET description = description WHERE id = $1`, [party]);
        assert.equal(result[1], 1);
      });
      await assert.rejects(
        inSession(principals.operator(), async (ctx) => {
          await em(ctx).query(`SELECT set_config('custodian.audit_purge', 'on', true)`);
          await em(ctx).query(`DELETE FROM audit_log WHERE id = $1`, [entry.id]);
        }),
        /permission denied/,
      );
      await assert.rejects(
        inSession(principals.operator(), (ctx) => em(ctx).query(`UPDATE audit_chain SET last_seq = 1`)),
        /permission denied/,
      );
      await assert.rejects(
        inSession(principals.operator(), (ctx) => em(ctx).query(`SELECT * FROM custodian_secret`)),
        /permission denied/,
      );
      const [{ n }] = await app.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE id = $1`, [entry.id]);
      assert.equal(n, 1);

      const writes = [
        `INSERT INTO breach_incident (id, title, description, severity, status, detected_at, created_at, updated_at) VALUES (gen_random_uuid(), 'x', 'x', 'LOW', 'INVESTIGATING', now(), now(), now())`,
        `INSERT INTO storage_location (code, name, data_center_countries, created_at) VALUES ('ZZFORGED', 'x', '{NL}', now())`,
        `UPDATE third_party SET description = description WHERE id = '${party}'`,
      ];
      for (const sql of writes) {
        for (const principal of [principals.tenantAdmin(a.id), principals.partner()]) {
          await assert.rejects(
            inSession(
              principal,
              async (ctx) => {
                const result = await em(ctx).query(sql);
                // An UPDATE that sees no row to change is as good as refused; say so to reject.
                if (Array.isArray(result) && result[1] === 0) throw new Error("row-level security: no row");
              },
              sql.includes("breach_incident") ? "control" : "region",
            ),
            /row-level security/,
            `${principal.role}: ${sql.slice(0, 30)}`,
          );
        }
      }
    });
  });
});
