import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { auditActor } from "../../src/shared/audit/audit-actor";
import { Role } from "../../src/shared/auth/role";

describe("an audit entry's actor", () => {
  it("is a data subject's internal id, never the login its token carries", () => {
    const id = "3f2b0000-0000-4000-8000-000000000001";
    assert.equal(auditActor({ subject: "jan.devries@example.test", role: Role.DATA_SUBJECT, dataSubjectId: id }), `data-subject:${id}`);
  });

  it("is the token subject of every other role", () => {
    for (const role of [Role.OPERATOR, Role.TENANT_ADMIN, Role.AUDITOR, Role.INTEGRATION, Role.PARTNER])
      assert.equal(auditActor({ subject: "admin@contoso.example", role, dataSubjectId: null }), "admin@contoso.example", role);
  });
});
