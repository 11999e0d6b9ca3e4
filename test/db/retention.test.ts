import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { promisify } from "node:util";
import type { DataSource } from "typeorm";
import { RETENTION_LOCK_KEY, RetentionScheduler } from "../../src/modules/retention/retention.scheduler";
import { TopologyRetention } from "../../src/modules/retention/topology-retention";
import { AuditService } from "../../src/modules/audit/audit.service";
import { Role } from "../../src/shared/auth/role";
import { createLogger } from "../../src/shared/logging";
import { TEST_AUDIT_SIGNER, type TestApp, otherRoles, type roles } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant } from "../helpers/factories";
import { at, DELETE, END, lifecycleApp } from "../helpers/lifecycle";

describe("retention (rules 6, 8-10)", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  let databaseUrl: string;
  let lifecycle: Awaited<ReturnType<typeof lifecycleApp>>;
  const engine = (batchSize?: number, db?: DataSource) => lifecycle.engine(batchSize, db);
  const record = (id: string) => lifecycle.record(id);
  const count = (table: string, tenantId: string) => lifecycle.count(table, tenantId);
  const tenantWithRecords = (n: number, graceDays?: number) => lifecycle.tenantWithRecords(n, graceDays);

  before(async () => {
    lifecycle = await lifecycleApp();
    ({ app, as, databaseUrl } = lifecycle);
  });
  beforeEach(() => app.clock.reset());
  after(() => lifecycle.close());

  describe("the purge (rules 6, 8, 10)", () => {
    it("keeps a record deleted on day 0 with a 30-day grace through day 29 and purges it after day 30", async () => {
      const { tenant, records } = await tenantWithRecords(2, 30);
      assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: records[0].id }));
      app.clock.set(at(29));
      await engine().run({ dryRun: false });
      assert.ok(await record(records[0].id), "still there on day 29");
      app.clock.set(at(31));
      await engine().run({ dryRun: false });
      assert.equal(await record(records[0].id), undefined, "gone on day 31");
      assert.ok(await record(records[1].id), "the active record stays");
    });

    it("honours a 7-day grace", async () => {
      const { tenant, records } = await tenantWithRecords(1, 7);
      assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: records[0].id }));
      app.clock.set(at(6));
      await engine().run({ dryRun: false });
      assert.ok(await record(records[0].id));
      app.clock.set(at(7));
      await engine().run({ dryRun: false });
      assert.equal(await record(records[0].id), undefined);
    });

    it("purges a deleted subject after its records", async () => {
      const { tenant, subject } = await tenantWithRecords(2, 3);
      assertOk(await as.asTenantAdmin(tenant.id).gql(`mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, { id: subject.id }));
      app.clock.set(at(3));
      const run = await engine().run({ dryRun: false });
      assert.equal(await count("personal_data_record", tenant.id), 0);
      assert.equal(await count("data_subject", tenant.id), 0);
      assert.ok(run.dataSubjectsPurged >= 1);
    });

    it("purges every piece of personal data of an ended tenant past its date and keeps a PURGED tombstone", async () => {
      const { tenant, records } = await tenantWithRecords(3, 5);
      await app.db.query(
        `INSERT INTO idempotency_key (tenant_id, key, operation, request_hash, result_ids, created_at, expires_at) VALUES ($1, 'k', 'op', 'h', '{}', $2, $3)`,
        [tenant.id, at(0), at(400)],
      );
      assertOk(await as.asOperator().gql(END, { id: tenant.id }));
      app.clock.set(at(4));
      await engine().run({ dryRun: false });
      assert.equal(await count("personal_data_record", tenant.id), 3, "not before its date");
      app.clock.set(at(5));
      await engine(2).run({ dryRun: false });
      for (const table of ["personal_data_record", "data_subject", "idempotency_key"]) assert.equal(await count(table, tenant.id), 0, table);
      const [row] = await app.db.query("SELECT subscription_status, name FROM tenant WHERE id = $1", [tenant.id]);
      assert.equal(row.subscription_status, "PURGED");
      const purged = await app.db.query("SELECT action, details FROM audit_log WHERE tenant_id = $1 AND action = 'TENANT_PURGED'", [tenant.id]);
      assert.equal(purged.length, 1);
      assert.equal(records.length, 3);
    });

    it("purges audit entries after 365 days, also a purged tenant's, and the chain still verifies", async () => {
      const { tenant } = await tenantWithRecords(0);
      app.clock.set(at(200));
      assertOk(
        await as
          .asTenantAdmin(tenant.id)
          .gql(`mutation($id: ID!) { updateRetentionPolicy(tenantId: $id, input: { deletionGraceDays: 5 }) { id } }`, { id: tenant.id }),
      );
      const entries = async () =>
        (await app.db.query("SELECT action FROM audit_log WHERE tenant_id = $1 ORDER BY chain_seq", [tenant.id])).map((r: any) => r.action);
      app.clock.set(at(365));
      await engine().run({ dryRun: false });
      assert.deepEqual(await entries(), ["TENANT_CREATED", "DATA_SUBJECT_REGISTERED", "RETENTION_POLICY_UPDATED"], "kept for 365 days");
      app.clock.set(at(366));
      const run = await engine().run({ dryRun: false });
      assert.ok(run.auditEntriesPurged >= 2);
      assert.deepEqual(await entries(), ["RETENTION_POLICY_UPDATED", "AUDIT_LOG_PURGED"]);
      assert.equal(
        assertOk(await as.asOperator().gql(`query($id: ID!) { verifyAuditLog(tenantId: $id) { valid } }`, { id: tenant.id })).verifyAuditLog.valid,
        true,
      );
    });
  });

  describe("runs (rule 9)", () => {
    /** Due work across several tenants: pending records, a deleted subject, an ended tenant, expired keys. */
    async function dueWork() {
      const a = await tenantWithRecords(7, 2);
      for (const r of a.records.slice(0, 5)) assertOk(await as.asIntegration(a.tenant.id).gql(DELETE, { id: r.id }));
      const b = await tenantWithRecords(4, 2);
      assertOk(await as.asTenantAdmin(b.tenant.id).gql(`mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, { id: b.subject.id }));
      const c = await tenantWithRecords(5, 2);
      await app.db.query(
        `INSERT INTO idempotency_key (tenant_id, key, operation, request_hash, result_ids, created_at, expires_at) VALUES ($1, 'old', 'op', 'h', '{}', $2, $3)`,
        [c.tenant.id, at(0), at(1)],
      );
      assertOk(await as.asOperator().gql(END, { id: c.tenant.id }));
      app.clock.set(at(3));
    }

    it("a dry run counts exactly what a real run purges, and changes nothing", async () => {
      await engine().run({ dryRun: false }); // start from nothing due
      await dueWork();
      const snapshot = async () =>
        (
          await app.db.query("SELECT (SELECT count(*) FROM personal_data_record) + (SELECT count(*) FROM data_subject) + (SELECT count(*) FROM audit_log) AS n")
        )[0].n;
      const before = await snapshot();
      const dry = await engine().run({ dryRun: true });
      assert.equal(await snapshot(), before, "a dry run changes nothing");
      const real = await engine(2).run({ dryRun: false });
      // Checkpoints are signed by real runs only.
      const strip = ({ dryRun: _d, startedAt: _s, finishedAt: _f, auditCheckpointsSigned: _c, auditChainsInvalid: _i, ...counts }: Record<string, unknown>) =>
        counts;
      assert.deepEqual(strip({ ...real }), strip({ ...dry }));
      assert.deepEqual(strip({ ...real }), {
        recordsPurged: 5 + 4 + 5,
        dataSubjectsPurged: 1 + 1,
        tenantsPurged: 1,
        auditEntriesPurged: 0,
        idempotencyKeysPurged: 1,
        deadlineEventsRaised: 0,
      });
    });

    it("two runs at once purge everything exactly once between them", async () => {
      await engine().run({ dryRun: false });
      await dueWork();
      const expected = await engine().run({ dryRun: true });
      const [x, y] = await Promise.all([engine(2).run({ dryRun: false }), engine(2).run({ dryRun: false })]);
      assert.equal(x.recordsPurged + y.recordsPurged, expected.recordsPurged);
      assert.equal(x.dataSubjectsPurged + y.dataSubjectsPurged, expected.dataSubjectsPurged);
      assert.equal(x.tenantsPurged + y.tenantsPurged, expected.tenantsPurged);
      assert.equal(x.idempotencyKeysPurged + y.idempotencyKeysPurged, expected.idempotencyKeysPurged);
      const after = await engine().run({ dryRun: true });
      assert.deepEqual([after.recordsPurged, after.dataSubjectsPurged, after.tenantsPurged], [0, 0, 0], "nothing missed");
    });

    it("a run that dies mid-way has purged only due rows, in whole batches, and the next run finishes the work", async () => {
      await engine().run({ dryRun: false });
      await dueWork();
      const expected = await engine().run({ dryRun: true });
      let transactions = 0;
      const failing = Object.create(app.db) as DataSource;
      failing.transaction = ((...args: unknown[]) => {
        if (++transactions === 4) return Promise.reject(new Error("simulated crash"));
        return (app.db.transaction as (...a: unknown[]) => Promise<unknown>)(...args);
      }) as DataSource["transaction"];
      await assert.rejects(engine(2, failing).run({ dryRun: false }), /simulated crash/);
      const [{ n: remaining }] = await app.db.query(
        "SELECT count(*)::int AS n FROM personal_data_record WHERE status = 'PENDING_DELETION' AND purge_due_at <= $1",
        [at(3)],
      );
      const purged = expected.recordsPurged - remaining;
      assert.ok(purged > 0 && purged % 2 === 0, `whole batches of two committed (${purged} purged)`);
      const [{ n: active }] = await app.db.query("SELECT count(*)::int AS n FROM personal_data_record WHERE status = 'ACTIVE'");
      assert.ok(active >= 2, "nothing that was not due is touched");
      const rest = await engine().run({ dryRun: false });
      assert.equal(rest.recordsPurged, remaining, "the next run purges exactly the rest");
    });

    it("runRetention is for operators, returns the run and is audited", async () => {
      await engine().run({ dryRun: false });
      await dueWork();
      const q = `mutation($dry: Boolean) { runRetention(dryRun: $dry) { dryRun recordsPurged tenantsPurged } }`;
      for (const p of otherRoles((await createTenant(app)).id, [Role.OPERATOR])) assertError(await app.as(p).gql(q, { dry: true }), "FORBIDDEN");
      assert.deepEqual(assertOk(await as.asOperator().gql(q, { dry: true })).runRetention, { dryRun: true, recordsPurged: 14, tenantsPurged: 1 });
      assert.deepEqual(assertOk(await as.asOperator().gql(q, {})).runRetention, { dryRun: false, recordsPurged: 14, tenantsPurged: 1 });
      const [entry] = await app.controlDb.query(
        "SELECT details FROM audit_log WHERE action = 'RETENTION_RUN' AND tenant_id IS NULL ORDER BY chain_seq DESC LIMIT 1",
      );
      assert.equal(entry.details.recordsPurged, 14);
    });

    it("the schedule runs once at a time across instances (advisory lock)", async () => {
      const log = createLogger("silent");
      const scheduler = new RetentionScheduler(
        app.topology,
        new TopologyRetention(app.topology, app.clock, new AuditService(), TEST_AUDIT_SIGNER, app.keys),
        log,
        3_600_000,
      );
      // Every database's lock held: another instance runs them all, so this one skips.
      const holders = await Promise.all(
        app.topology.all.map(async (database) => {
          const runner = database.maintenance.createQueryRunner();
          await runner.connect();
          return runner;
        }),
      );
      const holder = holders[0];
      await holder.connect();
      try {
        for (const h of holders) await h.query("SELECT pg_advisory_lock($1)", [RETENTION_LOCK_KEY]);
        assert.equal(await scheduler.runOnce(), null, "another instance holds the locks: skip");
        // Per database: with control's lock free, this instance runs control's part alone.
        await holder.query("SELECT pg_advisory_unlock($1)", [RETENTION_LOCK_KEY]);
        assert.equal((await scheduler.runOnce())?.dryRun, false);
        for (const h of holders.slice(1)) await h.query("SELECT pg_advisory_unlock($1)", [RETENTION_LOCK_KEY]);
      } finally {
        for (const h of holders) await h.release();
      }
    });

    it("npm run retention -- --dry-run prints the counts as JSON", async () => {
      const script = join(__dirname, "..", "..", "scripts", "retention.js");
      const { stdout } = await promisify(execFile)(process.execPath, [script, "--dry-run"], {
        env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: "warn" },
      });
      const run = JSON.parse(stdout);
      assert.equal(run.dryRun, true);
      assert.equal(typeof run.recordsPurged, "number");
    });
  });
});
