import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { Role } from "../../src/shared/auth/role";
import { type TestApp, otherRoles, type roles } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { at, DELETE, lifecycleApp } from "../helpers/lifecycle";

const REPORT = `query($id: ID!) { tenant(id: $id) { complianceReport {
  generatedAt activeRecords pendingDeletionRecords overdueDeletions oldestPurgeDueAt auditEntriesBeyondRetention
  agreementsPendingConsent suspendedAgreements unacknowledgedBreachNotifications residencyViolations } } }`;

/** The compliance report: figures of a tenant's data against its promises, at the service clock. */
describe("compliance report", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  let lifecycle: Awaited<ReturnType<typeof lifecycleApp>>;
  const engine = () => lifecycle.engine();
  const tenantWithRecords = (n: number, graceDays?: number) => lifecycle.tenantWithRecords(n, graceDays);

  before(async () => {
    lifecycle = await lifecycleApp();
    ({ app, as } = lifecycle);
  });
  beforeEach(() => app.clock.reset());
  after(() => lifecycle.close());

  describe("compliance report", () => {
    it("counts the tenant's records, overdue deletions and audit entries beyond retention, with the service clock; 0 overdue after a run", async () => {
      const { tenant, records } = await tenantWithRecords(3, 2);
      await app.db.query("UPDATE tenant SET audit_log_retention_days = 30 WHERE id = $1", [tenant.id]);
      assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: records[0].id }));
      let report = assertOk(await as.asAuditor(tenant.id).gql(REPORT, { id: tenant.id })).tenant.complianceReport;
      assert.deepEqual(report, {
        generatedAt: at(0).toISOString(),
        activeRecords: 2,
        pendingDeletionRecords: 1,
        overdueDeletions: 0,
        oldestPurgeDueAt: at(2).toISOString(),
        auditEntriesBeyondRetention: 0,
        agreementsPendingConsent: 0,
        suspendedAgreements: 0,
        unacknowledgedBreachNotifications: 0,
        residencyViolations: 0,
      });
      app.clock.set(at(31));
      report = assertOk(await as.asTenantAdmin(tenant.id).gql(REPORT, { id: tenant.id })).tenant.complianceReport;
      assert.equal(report.overdueDeletions, 1);
      assert.ok(report.auditEntriesBeyondRetention >= 5);
      await engine().run({ dryRun: false });
      report = assertOk(await as.asOperator().gql(REPORT, { id: tenant.id })).tenant.complianceReport;
      assert.deepEqual([report.overdueDeletions, report.auditEntriesBeyondRetention, report.pendingDeletionRecords], [0, 0, 0]);
      for (const p of otherRoles(tenant.id, [Role.OPERATOR, Role.TENANT_ADMIN, Role.AUDITOR]))
        assertError(await app.as(p).gql(REPORT, { id: tenant.id }), "FORBIDDEN");
    });
  });
});
