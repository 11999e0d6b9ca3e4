import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { AuditRetention } from "../../src/modules/audit/audit-retention";
import { AuditService } from "../../src/modules/audit/audit.service";
import { Role } from "../../src/shared/auth/role";
import { type TestApp, otherRoles, roles, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant, registerSubject } from "../helpers/factories";

const UPDATE = `mutation($id: ID!, $input: RetentionPolicyInput!) { updateRetentionPolicy(tenantId: $id, input: $input) { id } }`;
// Every retained entry: other test files sign checkpoints in this database at any moment, and a
// check from the newest one would count fewer entries depending on when it ran.
const VERIFY = `query($id: ID!) { verifyAuditLog(tenantId: $id, full: true) { valid entriesChecked firstInvalidEntryId problem } }`;
const LOG = `query($id: ID!, $first: Int, $after: String, $filter: AuditLogFilter) {
  tenant(id: $id) { auditLog(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id tenantId occurredAt actor actorRole action targetType targetId purpose outcome errorCode details hash } } } }`;

const DAY = 86_400_000;

describe("audit log: verification, read API and retention (rules 8, 26, 27)", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  const ids = async (tenantId: string): Promise<string[]> =>
    (await app.db.query("SELECT id FROM audit_log WHERE tenant_id = $1 ORDER BY chain_seq", [tenantId])).map((r: { id: string }) => r.id);
  /** Tampering as someone with direct database access would: triggers off for this transaction. */
  const tamper = (...statements: Array<[string, unknown[]]>) =>
    app.db.transaction(async (m) => {
      await m.query("SET LOCAL session_replication_role = replica");
      for (const [sql, params] of statements) await m.query(sql, params);
    });
  const verify = async (tenantId: string) => assertOk(await as.asOperator().gql(VERIFY, { id: tenantId })).verifyAuditLog;
  /** A tenant with `n` entries: its creation and n-1 policy changes. */
  async function tenantWithEntries(n: number, policy?: Record<string, number>) {
    const t = await createTenant(app, { retentionPolicy: policy });
    for (let i = 1; i < n; i++) assertOk(await as.asTenantAdmin(t.id).gql(UPDATE, { id: t.id, input: { deletionGraceDays: i } }));
    return t;
  }

  before(async () => {
    app = await startTestApp();
    as = roles(app);
  });
  after(() => app.close());

  describe("verifyAuditLog", () => {
    it("finds an intact chain valid and counts its entries", async () => {
      const t = await tenantWithEntries(4);
      assert.deepEqual(await verify(t.id), { valid: true, entriesChecked: 4, firstInvalidEntryId: null, problem: null });
    });

    it("finds an entry edited in SQL", async () => {
      const t = await tenantWithEntries(4);
      const [, second] = await ids(t.id);
      await tamper(["UPDATE audit_log SET actor = 'someone-else' WHERE id = $1", [second]]);
      const result = await verify(t.id);
      assert.equal(result.valid, false);
      assert.equal(result.firstInvalidEntryId, second);
      assert.equal(result.entriesChecked, 2);
    });

    it("finds a middle entry deleted in SQL, at the entry after it", async () => {
      const t = await tenantWithEntries(4);
      const [, second, third] = await ids(t.id);
      await tamper(["DELETE FROM audit_log WHERE id = $1", [second]]);
      assert.equal((await verify(t.id)).firstInvalidEntryId, third);
    });

    it("finds two entries swapped in SQL", async () => {
      const t = await tenantWithEntries(4);
      const [, second, third] = await ids(t.id);
      await tamper(
        ["UPDATE audit_log SET chain_seq = -1 WHERE id = $1", [second]],
        ["UPDATE audit_log SET chain_seq = 2 WHERE id = $1", [third]],
        ["UPDATE audit_log SET chain_seq = 3 WHERE id = $1", [second]],
      );
      const result = await verify(t.id);
      assert.equal(result.valid, false);
      assert.equal(result.firstInvalidEntryId, third, "the entry now in second place");
    });

    it("finds the newest entry deleted in SQL", async () => {
      const t = await tenantWithEntries(3);
      const [, , third] = await ids(t.id);
      await tamper(["DELETE FROM audit_log WHERE id = $1", [third]]);
      const result = await verify(t.id);
      assert.equal(result.valid, false);
      assert.equal(result.firstInvalidEntryId, null);
      assert.match(result.problem, /missing/);
    });

    it("finds an entry moved to another tenant's chain, in both chains", async () => {
      const a = await tenantWithEntries(3);
      const b = await tenantWithEntries(3);
      const [, second] = await ids(a.id);
      await tamper(["UPDATE audit_log SET tenant_id = $2, chain_seq = 99 WHERE id = $1", [second, b.id]]);
      assert.equal((await verify(a.id)).valid, false);
      assert.equal((await verify(b.id)).valid, false);
    });

    it("is for the tenant's admin and auditor and operators; others are refused, other tenants not found", async () => {
      const t = await tenantWithEntries(1);
      assert.equal(assertOk(await as.asTenantAdmin(t.id).gql(VERIFY, { id: t.id })).verifyAuditLog.valid, true);
      assert.equal(assertOk(await as.asAuditor(t.id).gql(VERIFY, { id: t.id })).verifyAuditLog.valid, true);
      for (const p of otherRoles(t.id, [Role.OPERATOR, Role.TENANT_ADMIN, Role.AUDITOR])) {
        assertError(await app.as(p).gql(VERIFY, { id: t.id }), "FORBIDDEN");
      }
      const other = await createTenant(app);
      assertError(await as.asTenantAdmin(other.id).gql(VERIFY, { id: t.id }), "NOT_FOUND");
    });

    it("verifies the operators' own chain", async () => {
      const data = assertOk(await as.asOperator().gql(`{ verifyOperatorAuditLog { valid } operatorAuditLog(first: 1) { totalCount } }`));
      assert.equal(data.verifyOperatorAuditLog.valid, true);
      assertError(await as.asTenantAdmin((await createTenant(app)).id).gql(`{ verifyOperatorAuditLog { valid } }`), "FORBIDDEN");
    });
  });

  describe("Tenant.auditLog", () => {
    it("lists the tenant's entries newest first, every field, no values", async () => {
      const t = await tenantWithEntries(3);
      assertError(await as.asTenantAdmin(t.id).gql(UPDATE, { id: t.id, input: { deletionGraceDays: 99 } }), "BAD_USER_INPUT");
      const log = assertOk(await as.asAuditor(t.id).gql(LOG, { id: t.id })).tenant.auditLog;
      assert.equal(log.totalCount, 4);
      assert.deepEqual(
        log.nodes.map((e: any) => [e.action, e.outcome, e.errorCode]),
        [
          ["RETENTION_POLICY_UPDATED", "DENIED", "BAD_USER_INPUT"],
          ["RETENTION_POLICY_UPDATED", "ALLOWED", null],
          ["RETENTION_POLICY_UPDATED", "ALLOWED", null],
          ["TENANT_CREATED", "ALLOWED", null],
        ],
      );
      const created = log.nodes[3];
      assert.equal(created.tenantId, t.id);
      assert.equal(created.actorRole, "OPERATOR");
      assert.equal(created.targetType, "Tenant");
      assert.equal(created.targetId, t.id);
      assert.match(created.hash, /^[0-9a-f]{64}$/);
      assert.equal(created.details.storageLocationCode, "EU");
    });

    it("pages with stable cursors while new entries arrive", async () => {
      const t = await tenantWithEntries(5);
      const admin = as.asTenantAdmin(t.id);
      const first = assertOk(await admin.gql(LOG, { id: t.id, first: 2 })).tenant.auditLog;
      assert.equal(first.pageInfo.hasNextPage, true);
      // New entries land at the head; the next page still continues right after the cursor.
      assertOk(await admin.gql(UPDATE, { id: t.id, input: { deletionGraceDays: 20 } }));
      const second = assertOk(await admin.gql(LOG, { id: t.id, first: 2, after: first.pageInfo.endCursor })).tenant.auditLog;
      const third = assertOk(await admin.gql(LOG, { id: t.id, first: 2, after: second.pageInfo.endCursor })).tenant.auditLog;
      const seen = [...first.nodes, ...second.nodes, ...third.nodes].map((e: any) => e.id);
      const all = (await ids(t.id)).reverse().slice(1); // newest first, without the one added meanwhile
      assert.deepEqual(seen, all);
      assert.equal(third.pageInfo.hasNextPage, false);
      assertError(await admin.gql(LOG, { id: t.id, after: "bm90LWEtY3Vyc29y" }), "BAD_USER_INPUT", "after");
    });

    it("filters by action, actor, outcome and time range", async () => {
      const t0 = new Date("2029-06-01T00:00:00.000Z");
      app.clock.set(t0);
      try {
        const t = await createTenant(app);
        app.clock.set(new Date(t0.getTime() + DAY));
        assertOk(await as.asTenantAdmin(t.id).gql(UPDATE, { id: t.id, input: { deletionGraceDays: 3 } }));
        app.clock.set(new Date(t0.getTime() + 2 * DAY));
        assertError(await as.asIntegration(t.id).gql(UPDATE, { id: t.id, input: { deletionGraceDays: 4 } }), "FORBIDDEN");
        const page = async (filter: Record<string, unknown>) =>
          assertOk(await as.asOperator().gql(LOG, { id: t.id, filter })).tenant.auditLog.nodes.map((e: any) => `${e.action}/${e.actorRole}/${e.outcome}`);
        assert.deepEqual(await page({ action: "TENANT_CREATED" }), ["TENANT_CREATED/OPERATOR/ALLOWED"]);
        assert.deepEqual(await page({ actor: "test-integration" }), ["RETENTION_POLICY_UPDATED/INTEGRATION/DENIED"]);
        assert.deepEqual(await page({ outcome: "ALLOWED", action: "RETENTION_POLICY_UPDATED" }), ["RETENTION_POLICY_UPDATED/TENANT_ADMIN/ALLOWED"]);
        const since = new Date(t0.getTime() + DAY).toISOString();
        const until = new Date(t0.getTime() + 2 * DAY).toISOString();
        assert.deepEqual(await page({ since, until }), ["RETENTION_POLICY_UPDATED/TENANT_ADMIN/ALLOWED"], "since inclusive, until exclusive");
        assertError(await as.asOperator().gql(LOG, { id: t.id, filter: { since: until, until: since } }), "BAD_USER_INPUT", "filter.until");
        assertError(await as.asOperator().gql(LOG, { id: t.id, filter: { action: "drop table" } }), "BAD_USER_INPUT");
      } finally {
        app.clock.reset();
      }
    });

    it("names a data subject by its id, never by the login its token carries; staff by their token subject", async () => {
      const t = await createTenant(app);
      const subject = await registerSubject(app, t.id);
      const login = `jan.devries.${randomUUID()}@example.test`;
      const self = app.as({ subject: login, role: Role.DATA_SUBJECT, tenantId: t.id, dataSubjectId: subject.id });
      assertOk(
        await self.gql(`mutation($input: OpenSubjectRequestInput!) { openSubjectRequest(input: $input) { id } }`, {
          input: { dataSubjectId: subject.id, kind: "ACCESS" },
        }),
      );
      assertOk(await self.gql(`query($id: ID!) { exportDataSubject(id: $id) { generatedAt } }`, { id: subject.id }));
      // The probe: a staff login is named as it is, so a login in an entry would be found.
      const staff = `admin.${randomUUID()}@example.test`;
      assertOk(
        await app
          .as({ subject: staff, role: Role.TENANT_ADMIN, tenantId: t.id, dataSubjectId: null })
          .gql(UPDATE, { id: t.id, input: { deletionGraceDays: 9 } }),
      );
      const rows = JSON.stringify(await app.db.query(`SELECT a::text FROM audit_log a WHERE tenant_id = $1`, [t.id]));
      assert.ok(rows.includes(staff), "the probe finds a login where one belongs");
      assert.ok(!rows.includes(login), "no entry holds the data subject's login");
      const mine = assertOk(await as.asOperator().gql(LOG, { id: t.id, filter: { actor: `data-subject:${subject.id}` } })).tenant.auditLog.nodes;
      assert.deepEqual(mine.map((e: { action: string }) => e.action).sort(), ["DATA_SUBJECT_EXPORTED", "SUBJECT_REQUEST_OPENED"]);
      assert.ok(mine.every((e: { actorRole: string }) => e.actorRole === "DATA_SUBJECT"));
    });

    it("is refused to integrations, data subjects and partners; another tenant's log is not found", async () => {
      const t = await tenantWithEntries(1);
      for (const p of otherRoles(t.id, [Role.OPERATOR, Role.TENANT_ADMIN, Role.AUDITOR])) {
        const result = await app.as(p).gql(LOG, { id: t.id });
        assertError(result, "FORBIDDEN");
        assert.equal(result.data?.tenant ?? null, null);
      }
      const other = await createTenant(app);
      assert.equal(assertOk(await as.asAuditor(other.id).gql(LOG, { id: t.id })).tenant, null);
    });
  });

  describe("retention of the log itself", () => {
    const retention = (batchSize = 3) => new AuditRetention(app.maintenance, new AuditService(), batchSize);
    /** A tenant whose entries were written `era` (a date long ago), 10-day audit retention. */
    async function oldTenant(era: string, n: number) {
      app.clock.set(new Date(era));
      try {
        return await tenantWithEntries(n, { auditLogRetentionDays: 10 });
      } finally {
        app.clock.reset();
      }
    }

    it("purges entries past the tenant's retention, keeps the rest, and the chain still verifies", async () => {
      const t = await oldTenant("2001-01-01T00:00:00Z", 7);
      // Two newer entries, inside the retention when the purge runs.
      const now = new Date("2001-02-01T00:00:00Z");
      app.clock.set(new Date(now.getTime() - 2 * DAY));
      try {
        assertOk(await as.asTenantAdmin(t.id).gql(UPDATE, { id: t.id, input: { deletionGraceDays: 30 } }));
        assertOk(await as.asTenantAdmin(t.id).gql(UPDATE, { id: t.id, input: { deletionGraceDays: 29 } }));
      } finally {
        app.clock.reset();
      }
      const kept = (await ids(t.id)).slice(7);
      assert.equal(await retention().purge(now, { dryRun: true }), 7, "a dry run counts");
      assert.equal((await ids(t.id)).length, 9, "and changes nothing");
      assert.equal(await retention().purge(now, { dryRun: false }), 7);
      const remaining: Array<{ id: string; action: string; details: any }> = await app.db.query(
        "SELECT id, action, details FROM audit_log WHERE tenant_id = $1 ORDER BY chain_seq",
        [t.id],
      );
      assert.deepEqual(
        remaining.slice(0, 2).map((r) => r.id),
        kept,
      );
      // One purge entry per batch (3 + 3 + 1), the newest naming the anchor.
      assert.deepEqual(
        remaining.slice(2).map((r) => [r.action, r.details.purgedEntries]),
        [
          ["AUDIT_LOG_PURGED", 3],
          ["AUDIT_LOG_PURGED", 3],
          ["AUDIT_LOG_PURGED", 1],
        ],
      );
      const [head] = await app.db.query("SELECT anchor_seq, anchor_hash FROM audit_chain WHERE chain_key = $1", [t.id]);
      assert.equal(Number(head.anchor_seq), 7);
      assert.equal(remaining[4].details.anchorHash, head.anchor_hash);
      assert.deepEqual(await verify(t.id), { valid: true, entriesChecked: 5, firstInvalidEntryId: null, problem: null });
      assert.equal(await retention().purge(now, { dryRun: false }), 0, "nothing twice");
    });

    it("finds the oldest entries removed by hand even when the anchor was moved to match", async () => {
      const t = await oldTenant("2002-01-01T00:00:00Z", 4);
      const [first, second] = await app.db.query("SELECT id, chain_seq, hash FROM audit_log WHERE tenant_id = $1 ORDER BY chain_seq", [t.id]);
      await tamper(
        ["DELETE FROM audit_log WHERE id = ANY($1)", [[first.id, second.id]]],
        ["UPDATE audit_chain SET anchor_seq = $2, anchor_hash = $3 WHERE chain_key = $1", [t.id, second.chain_seq, second.hash]],
      );
      const result = await verify(t.id);
      assert.equal(result.valid, false);
      assert.match(result.problem, /no retention purge/);
    });

    it("keeps each tenant's own retention, also for a purged tenant", async () => {
      const short = await oldTenant("2003-01-01T00:00:00Z", 2);
      app.clock.set(new Date("2003-01-01T00:00:00Z"));
      const long = await tenantWithEntries(2, { auditLogRetentionDays: 365 }).finally(() => app.clock.reset());
      await app.db.query("UPDATE tenant SET subscription_status = 'PURGED' WHERE id = $1", [short.id]);
      await retention().purge(new Date("2003-02-01T00:00:00Z"), { dryRun: false });
      assert.deepEqual(
        (await app.db.query("SELECT action FROM audit_log WHERE tenant_id = $1", [short.id])).map((r: any) => r.action),
        ["AUDIT_LOG_PURGED"],
      );
      assert.equal((await ids(long.id)).length, 2);
    });

    it("two purges at once delete each entry once and leave a valid chain", async () => {
      const t = await oldTenant("2004-01-01T00:00:00Z", 12);
      const now = new Date("2004-03-01T00:00:00Z");
      await Promise.all([retention(2).purge(now, { dryRun: false }), retention(2).purge(now, { dryRun: false })]);
      const rows: Array<{ action: string; details: any }> = await app.db.query("SELECT action, details FROM audit_log WHERE tenant_id = $1", [t.id]);
      assert.ok(
        rows.every((r) => r.action === "AUDIT_LOG_PURGED"),
        "every expired entry is gone",
      );
      assert.equal(
        rows.reduce((sum, r) => sum + r.details.purgedEntries, 0),
        12,
        "and counted once",
      );
      assert.equal((await verify(t.id)).valid, true);
    });
  });
});
