import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type TestApp, principals, startTestApp } from "../helpers/app";
import { createTenant, recordData, registerSubject } from "../helpers/factories";

/** Every refusal of an authenticated caller is audited, whichever chain it lands in and whatever the caller may read. */
describe("refusals of callers who read no audit chain", () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  it("audits a PARTNER's refused mutation in the operators' chain, with no audit failure logged", async () => {
    const marker = randomUUID();
    const partner = { ...principals.partner(), subject: `partner-${marker}` };
    const result = await app.as(partner).gql(`mutation { createTenant(input: { name: "x", storageLocationCode: "EU" }) { id } }`);
    assert.equal(result.errors?.[0].extensions.code, "FORBIDDEN");
    const entries = await app.controlDb.query(`SELECT action, outcome, error_code, actor_role, tenant_id FROM audit_log WHERE actor = $1`, [partner.subject]);
    assert.deepEqual(
      entries.map((e: Record<string, unknown>) => ({ ...e })),
      [{ action: "TENANT_CREATED", outcome: "DENIED", error_code: "FORBIDDEN", actor_role: "PARTNER", tenant_id: null }],
    );
    assert.ok(!app.logs.some((line) => line.includes("could not write the audit entry")), "no audit failure");
    const verified = await app.as(principals.operator()).gql(`{ verifyOperatorAuditLog { valid } }`);
    assert.equal(verified.data?.verifyOperatorAuditLog.valid, true, JSON.stringify(verified));
  });
});

/** A verification is right whatever else its request does. */
describe("verifying the chain in a request that also reads values", () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  it("finds the chain valid, though the value read commits its audit entry mid-request", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const record = await recordData(app, tenant.id, subject.id, { purposes: ["SUPPORT"] });
    const admin = app.as(principals.tenantAdmin(tenant.id));
    for (let i = 0; i < 5; i++) {
      const result = await admin.gql(
        `query($r: ID!, $t: ID!) { personalDataRecord(id: $r) { value(purpose: SUPPORT) } verifyAuditLog(tenantId: $t) { valid problem entriesChecked } }`,
        { r: record.id, t: tenant.id },
      );
      assert.equal(result.errors, undefined, JSON.stringify(result.errors));
      assert.deepEqual(
        { valid: result.data!.verifyAuditLog.valid, problem: result.data!.verifyAuditLog.problem },
        { valid: true, problem: null },
        `round ${i}`,
      );
    }
    // The probe still finds what it looks for: an entry edited with triggers off is found.
    await app.db.transaction(async (m) => {
      await m.query("SET LOCAL session_replication_role = replica");
      await m.query(`UPDATE audit_log SET actor = 'someone else' WHERE tenant_id = $1 AND chain_seq = 1`, [tenant.id]);
    });
    const after = await admin.gql(`query($t: ID!) { verifyAuditLog(tenantId: $t) { valid } }`, { t: tenant.id });
    assert.equal(after.data!.verifyAuditLog.valid, false);
  });
});
