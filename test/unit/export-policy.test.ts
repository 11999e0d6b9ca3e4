import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exportRequest } from "../../src/modules/personal-data/export-policy";
import { Role } from "../../src/shared/auth/role";

const field = (e: unknown) => (e as { extensions?: { code?: string; field?: string } }).extensions?.field === "onRequest";

describe("who exports on whose request (pure)", () => {
  it("lets a person export their own data, never naming a request", () => {
    assert.equal(exportRequest(Role.DATA_SUBJECT, null), null);
    assert.equal(exportRequest(Role.DATA_SUBJECT, undefined), null);
    assert.throws(() => exportRequest(Role.DATA_SUBJECT, "T-1"), field);
  });

  it("lets an administrator export only on a request, named by a reference that is an identifier, not prose", () => {
    assert.equal(exportRequest(Role.TENANT_ADMIN, "TICKET-4711"), "TICKET-4711");
    assert.equal(exportRequest(Role.TENANT_ADMIN, "sr_01HZX/2026#3"), "sr_01HZX/2026#3");
    for (const bad of [null, undefined, "", " T-1", "Jan de Vries", "a".repeat(101), "-T", "T\u0000", "mail@example.test"]) {
      assert.throws(() => exportRequest(Role.TENANT_ADMIN, bad), field, String(bad));
    }
    assert.equal(exportRequest(Role.TENANT_ADMIN, "a".repeat(100))?.length, 100);
  });
});
