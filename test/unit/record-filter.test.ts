import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { countsWholeTenant, recordPageConditions } from "../../src/modules/personal-data/record-filter";

const TENANT = "6f1c2a9e-0b7d-4c1e-9a55-2d4f3b8e7c10";
const SUBJECT = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";

/** Which pages are a whole tenant's (counted by its tally) and which conditions narrow the rest. */
describe("record page conditions", () => {
  const bind = (value: unknown) => `[${String(value)}]`;

  it("counts a whole tenant only when no filter narrows it and the caller sees every record", () => {
    assert.equal(countsWholeTenant({ kind: "all" }, null), true);
    assert.equal(countsWholeTenant({ kind: "all" }, {}), true);
    assert.equal(countsWholeTenant({ kind: "tenant", tenantId: TENANT, dataSubjectId: null }, undefined), true);
    // A data subject sees its own records only.
    assert.equal(countsWholeTenant({ kind: "tenant", tenantId: TENANT, dataSubjectId: SUBJECT }, null), false);
    for (const filter of [{ status: "ACTIVE" }, { category: "DEVICE" }, { dataSubjectId: SUBJECT }, { dataSubjectId: "not-a-uuid" }])
      assert.equal(countsWholeTenant({ kind: "all" }, filter as never), false, JSON.stringify(filter));
    // An empty subject id narrows nothing, as the page itself reads it.
    assert.equal(countsWholeTenant({ kind: "all" }, { dataSubjectId: "" } as never), true);
  });

  it("agrees with the conditions a page is read with: a whole tenant's page has none beyond its tenant", () => {
    for (const scope of [{ kind: "all" as const }, { kind: "tenant" as const, tenantId: TENANT, dataSubjectId: null }]) {
      const conditions = recordPageConditions(scope, null, bind);
      assert.ok(
        conditions.every((c) => c === `r.tenant_id = [${TENANT}]`),
        conditions.join(" AND "),
      );
    }
    assert.deepEqual(recordPageConditions({ kind: "tenant", tenantId: TENANT, dataSubjectId: SUBJECT }, null, bind), [
      `r.tenant_id = [${TENANT}]`,
      `r.data_subject_id = [${SUBJECT}]`,
    ]);
  });
});
