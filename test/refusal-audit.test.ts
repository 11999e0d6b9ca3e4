import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type TestApp, principals, startTestApp } from "./helpers/app";

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
    const entries = await app.db.query(`SELECT action, outcome, error_code, actor_role, tenant_id FROM audit_log WHERE actor = $1`, [partner.subject]);
    assert.deepEqual(entries.map((e: Record<string, unknown>) => ({ ...e })), [{ action: "TENANT_CREATED", outcome: "DENIED", error_code: "FORBIDDEN", actor_role: "PARTNER", tenant_id: null }]);
    assert.ok(!app.logs.some((line) => line.includes("could not write the audit entry")), "no audit failure");
    const verified = await app.as(principals.operator()).gql(`{ verifyOperatorAuditLog { valid } }`);
    assert.equal(verified.data?.verifyOperatorAuditLog.valid, true, JSON.stringify(verified));
  });
});
