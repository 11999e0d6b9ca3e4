import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Role } from "../../src/shared/auth/role";
import { type TestApp, otherRoles, roles, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant } from "../helpers/factories";

const HOUR = 3_600_000;
const REPORT = `mutation($input: ReportSecurityIncidentInput!) { reportSecurityIncident(input: $input) { id status detectedAt notificationDeadline overdue dataCategories } }`;
const ADD = `mutation($id: ID!, $tenants: [ID!]!) { addAffectedTenants(incidentId: $id, tenantIds: $tenants) { id status } }`;
const DECLARE = `mutation($id: ID!) { declareCustomerReportable(incidentId: $id) { id status } }`;
const DISMISS = `mutation($id: ID!, $reason: String!) { dismissSecurityIncident(incidentId: $id, reason: $reason) { id status } }`;
const RESOLVE = `mutation($id: ID!, $resolution: String!) { resolveSecurityIncident(incidentId: $id, resolution: $resolution) { id status resolution resolvedAt } }`;
const ACK = `mutation($id: ID!) { acknowledgeBreachNotification(notificationId: $id) { id status acknowledgedAt acknowledgedBy } }`;
const INCIDENT = `query($id: ID!) { breachIncident(id: $id) { id status overdue notifications { id sentAt withinDeadline status tenant { id } } } }`;
const AS_OPERATOR = `query($id: ID!) { breachIncident(id: $id) { id status overdue affectedTenants { id } notifications { id sentAt withinDeadline tenant { id } } } }`;

describe("security incidents (rules 22-25)", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  const T0 = new Date("2035-03-01T12:00:00.000Z").getTime();
  const at = (hours: number, ms = 0) => new Date(T0 + hours * HOUR + ms);
  async function report(tenantIds: string[], detectedAt = at(0)) {
    const input = {
      title: "Leaked support export",
      description: "A support export was reachable without authentication.",
      severity: "HIGH",
      detectedAt: detectedAt.toISOString(),
      affectedTenantIds: tenantIds,
      dataCategories: ["CONTACT"],
    };
    return assertOk(await as.asOperator().gql(REPORT, { input })).reportSecurityIncident as {
      id: string;
      notificationDeadline: string;
      status: string;
      overdue: boolean;
    };
  }

  before(async () => {
    app = await startTestApp();
    as = roles(app);
  });
  after(() => app.clock.reset());
  after(() => app.close());

  describe("reporting (rule 22)", () => {
    it("records an INVESTIGATING incident with its 72-hour deadline; operators only", async () => {
      app.clock.set(at(1));
      const a = await createTenant(app);
      const incident = await report([a.id]);
      assert.deepEqual([incident.status, incident.notificationDeadline, incident.overdue], ["INVESTIGATING", at(72).toISOString(), false]);
      const input = { title: "x", description: "y", severity: "LOW", detectedAt: at(0).toISOString(), affectedTenantIds: [] };
      for (const p of otherRoles(a.id, [Role.OPERATOR])) assertError(await app.as(p).gql(REPORT, { input }), "FORBIDDEN");
    });

    it("refuses a detection time in the future or before the GDPR, and unknown tenants, writing nothing", async () => {
      app.clock.set(at(0));
      const a = await createTenant(app);
      const base = { title: "x", description: "y", severity: "LOW", affectedTenantIds: [a.id] };
      for (const detectedAt of [at(0, 1).toISOString(), "0001-01-01T00:00:00.000Z"])
        assertError(await as.asOperator().gql(REPORT, { input: { ...base, detectedAt } }), "BAD_USER_INPUT", "detectedAt");
      const unknown = await as
        .asOperator()
        .gql(REPORT, { input: { ...base, detectedAt: at(0).toISOString(), affectedTenantIds: [a.id, "7e4a0000-0000-4000-8000-0000000000ff"] } });
      assertError(unknown, "BAD_USER_INPUT", "affectedTenantIds");
      assert.equal(unknown.errors![0].extensions.index, 1);
      const [{ n }] = await app.controlDb.query("SELECT count(*)::int AS n FROM breach_affected_tenant WHERE tenant_id = $1", [a.id]);
      assert.equal(n, 0);
    });
  });

  describe("lifecycle (rule 25)", () => {
    it("goes INVESTIGATING -> CUSTOMER_REPORTABLE -> RESOLVED, or INVESTIGATING -> DISMISSED; anything else is INVALID_STATE", async () => {
      app.clock.set(at(1));
      const a = await createTenant(app);
      const breach = await report([a.id]);
      assertError(await as.asOperator().gql(RESOLVE, { id: breach.id, resolution: "fixed" }), "INVALID_STATE");
      assertOk(await as.asOperator().gql(DECLARE, { id: breach.id }));
      assertError(await as.asOperator().gql(DECLARE, { id: breach.id }), "INVALID_STATE");
      assertError(await as.asOperator().gql(DISMISS, { id: breach.id, reason: "no" }), "INVALID_STATE");
      assertError(await as.asOperator().gql(RESOLVE, { id: breach.id, resolution: " " }), "BAD_USER_INPUT", "resolution");
      const resolved = assertOk(await as.asOperator().gql(RESOLVE, { id: breach.id, resolution: "Export removed, keys rotated." })).resolveSecurityIncident;
      assert.deepEqual([resolved.status, resolved.resolution, resolved.resolvedAt], ["RESOLVED", "Export removed, keys rotated.", at(1).toISOString()]);
      assertError(await as.asOperator().gql(ADD, { id: breach.id, tenants: [a.id] }), "INVALID_STATE");

      const falseAlarm = await report([a.id]);
      assertError(await as.asOperator().gql(DISMISS, { id: falseAlarm.id, reason: "" }), "BAD_USER_INPUT", "reason");
      assert.equal(
        assertOk(await as.asOperator().gql(DISMISS, { id: falseAlarm.id, reason: "Scanner false positive." })).dismissSecurityIncident.status,
        "DISMISSED",
      );
      assertError(await as.asOperator().gql(DECLARE, { id: falseAlarm.id }), "INVALID_STATE");
      assertError(await as.asOperator().gql(RESOLVE, { id: falseAlarm.id, resolution: "x" }), "INVALID_STATE");
      assertError(await as.asOperator().gql(DECLARE, { id: "7e4a0000-0000-4000-8000-0000000000ff" }), "NOT_FOUND");
      for (const p of otherRoles(a.id, [Role.OPERATOR])) assertError(await app.as(p).gql(DECLARE, { id: falseAlarm.id }), "FORBIDDEN");
    });
  });

  describe("notification (rule 23) and the 72-hour clock", () => {
    it("notifies every affected tenant at once when declared; later tenants at once; while investigating only records them", async () => {
      app.clock.set(at(2));
      const [a, b, c, d] = [await createTenant(app), await createTenant(app), await createTenant(app), await createTenant(app)];
      const incident = await report([a.id, b.id]);
      assertOk(await as.asOperator().gql(ADD, { id: incident.id, tenants: [c.id, a.id] })); // a twice: no change
      let view = assertOk(await as.asOperator().gql(AS_OPERATOR, { id: incident.id })).breachIncident;
      assert.equal(view.affectedTenants.length, 3);
      assert.deepEqual(view.notifications, [], "investigating: recorded, not notified");
      app.clock.set(at(10));
      assertOk(await as.asOperator().gql(DECLARE, { id: incident.id }));
      view = assertOk(await as.asOperator().gql(AS_OPERATOR, { id: incident.id })).breachIncident;
      assert.deepEqual(
        view.notifications.map((n: any) => [n.tenant.id, n.sentAt, n.withinDeadline]).sort(),
        [a, b, c].map((t) => [t.id, at(10).toISOString(), true]).sort(),
      );
      app.clock.set(at(80));
      assertOk(await as.asOperator().gql(ADD, { id: incident.id, tenants: [d.id, b.id] }));
      view = assertOk(await as.asOperator().gql(AS_OPERATOR, { id: incident.id })).breachIncident;
      const late = view.notifications.find((n: any) => n.tenant.id === d.id);
      assert.deepEqual([late.sentAt, late.withinDeadline], [at(80).toISOString(), false]);
      assert.equal(view.notifications.length, 4, "adding a tenant twice sends nothing twice");
      assert.equal(view.overdue, false);
      const sent = await app.db.query("SELECT tenant_id FROM audit_log WHERE action = 'BREACH_NOTIFICATION_SENT' AND details->>'incidentId' = $1", [
        incident.id,
      ]);
      assert.equal(sent.length, 4, "each tenant's own log records its notification");
    });

    it("tests the 72-hour boundary on both sides", async () => {
      const a = await createTenant(app);
      app.clock.set(at(0));
      const onTime = await report([a.id]);
      const late = await report([a.id]);
      app.clock.set(at(72));
      assert.equal(assertOk(await as.asOperator().gql(AS_OPERATOR, { id: onTime.id })).breachIncident.overdue, false, "exactly at the deadline: not overdue");
      assertOk(await as.asOperator().gql(DECLARE, { id: onTime.id }));
      app.clock.set(at(72, 1));
      assert.equal(
        assertOk(await as.asOperator().gql(AS_OPERATOR, { id: late.id })).breachIncident.overdue,
        true,
        "one millisecond after, with a tenant not notified",
      );
      assertOk(await as.asOperator().gql(DECLARE, { id: late.id }));
      const [onTimeView, lateView] = [
        assertOk(await as.asOperator().gql(AS_OPERATOR, { id: onTime.id })).breachIncident,
        assertOk(await as.asOperator().gql(AS_OPERATOR, { id: late.id })).breachIncident,
      ];
      assert.deepEqual([onTimeView.notifications[0].withinDeadline, lateView.notifications[0].withinDeadline], [true, false]);
      assert.equal(lateView.overdue, false, "no longer overdue once every affected tenant is notified");
    });
  });

  describe("visibility (rule 24)", () => {
    it("shows a tenant only incidents it was notified of and only its own notification, never the other tenants", async () => {
      app.clock.set(at(3));
      const [a, b, outsider] = [await createTenant(app), await createTenant(app), await createTenant(app)];
      const incident = await report([a.id, b.id]);
      assert.equal(assertOk(await as.asTenantAdmin(a.id).gql(INCIDENT, { id: incident.id })).breachIncident, null, "not while only investigated");
      assertOk(await as.asOperator().gql(DECLARE, { id: incident.id }));
      for (const who of [as.asTenantAdmin(a.id), as.asAuditor(a.id)]) {
        const view = assertOk(await who.gql(INCIDENT, { id: incident.id })).breachIncident;
        assert.equal(view.notifications.length, 1);
        assert.equal(view.notifications[0].tenant.id, a.id);
        const everything = JSON.stringify(await who.gql(`{ breachIncidents { totalCount nodes { id overdue notifications { id tenant { id } } } } }`));
        assert.ok(!everything.includes(b.id), "no trace of the other affected tenant");
        assertError(await who.gql(`query($id: ID!) { breachIncident(id: $id) { affectedTenants { id } } }`, { id: incident.id }), "FORBIDDEN");
      }
      assert.equal(assertOk(await as.asTenantAdmin(outsider.id).gql(INCIDENT, { id: incident.id })).breachIncident, null);
      const list = assertOk(await as.asTenantAdmin(outsider.id).gql(`{ breachIncidents { totalCount } }`)).breachIncidents;
      assert.equal(list.totalCount, 0);
      for (const p of otherRoles(a.id, [Role.OPERATOR, Role.TENANT_ADMIN, Role.AUDITOR]))
        assertError(await app.as(p).gql(INCIDENT, { id: incident.id }), "FORBIDDEN");
      const ops = assertOk(await as.asOperator().gql(AS_OPERATOR, { id: incident.id })).breachIncident;
      assert.equal(ops.notifications.length, 2);
    });
  });

  describe("acknowledgement (rule 24) and the compliance report", () => {
    it("is for the tenant's administrator, keeps who and when, and twice changes nothing", async () => {
      app.clock.set(at(4));
      const a = await createTenant(app);
      const other = await createTenant(app);
      const incident = await report([a.id]);
      assertOk(await as.asOperator().gql(DECLARE, { id: incident.id }));
      const notifications = assertOk(
        await as
          .asTenantAdmin(a.id)
          .gql(
            `query($id: ID!) { tenant(id: $id) { breachNotifications { id status incident { id } } complianceReport { unacknowledgedBreachNotifications } } }`,
            { id: a.id },
          ),
      ).tenant;
      assert.equal(notifications.complianceReport.unacknowledgedBreachNotifications, 1);
      const [mine] = notifications.breachNotifications;
      assert.deepEqual([mine.status, mine.incident.id], ["SENT", incident.id]);
      assertError(await as.asTenantAdmin(other.id).gql(ACK, { id: mine.id }), "NOT_FOUND");
      assertError(await as.asAuditor(a.id).gql(ACK, { id: mine.id }), "FORBIDDEN");
      assertError(await as.asOperator().gql(ACK, { id: mine.id }), "FORBIDDEN");
      app.clock.set(at(5));
      const acked = assertOk(await as.asTenantAdmin(a.id).gql(ACK, { id: mine.id })).acknowledgeBreachNotification;
      assert.deepEqual(acked, { id: mine.id, status: "ACKNOWLEDGED", acknowledgedAt: at(5).toISOString(), acknowledgedBy: "test-admin" });
      app.clock.set(at(6));
      assert.deepEqual(assertOk(await as.asTenantAdmin(a.id).gql(ACK, { id: mine.id })).acknowledgeBreachNotification, acked);
      const report2 = assertOk(
        await as.asAuditor(a.id).gql(`query($id: ID!) { tenant(id: $id) { complianceReport { unacknowledgedBreachNotifications } } }`, { id: a.id }),
      );
      assert.equal(report2.tenant.complianceReport.unacknowledgedBreachNotifications, 0);
      const audited = (await app.db.query("SELECT action, outcome, error_code FROM audit_log WHERE tenant_id = $1 ORDER BY chain_seq", [a.id])).map(
        (r: any) => `${r.action}:${r.error_code ?? r.outcome}`,
      );
      assert.deepEqual(audited.slice(-4), [
        "BREACH_NOTIFICATION_SENT:ALLOWED",
        "BREACH_NOTIFICATION_ACKNOWLEDGED:FORBIDDEN",
        "BREACH_NOTIFICATION_ACKNOWLEDGED:ALLOWED",
        "BREACH_NOTIFICATION_ACKNOWLEDGED:ALLOWED",
      ]);
      const steps = (
        await app.controlDb.query("SELECT action FROM audit_log WHERE tenant_id IS NULL AND target_id = $1 ORDER BY chain_seq", [incident.id])
      ).map((r: any) => r.action);
      assert.deepEqual(steps, ["SECURITY_INCIDENT_REPORTED", "INCIDENT_DECLARED_CUSTOMER_REPORTABLE"]);
    });
  });
});
