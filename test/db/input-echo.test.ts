import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type TestApp, principals, startTestApp } from "../helpers/app";
import { RECORD, createTenant, registerSubject } from "../helpers/factories";

const MARK = "ECHO-MARK";

/** Refusals say what is wrong without repeating what was sent, and forged input is the client's mistake. */
describe("refusals that once echoed input or failed inside", () => {
  let app: TestApp;
  let tenant: { id: string };
  let subjectId: string;
  before(async () => {
    app = await startTestApp({ config: { bodyLimitBytes: 4 * 1024 * 1024 } });
    tenant = await createTenant(app);
    subjectId = (await registerSubject(app, tenant.id)).id;
  });
  after(() => app.close());

  it("RESIDENCY_VIOLATION names the tenant's location, never the one asked for", async () => {
    const result = await app.as(principals.integration(tenant.id)).gql(RECORD, {
      input: {
        tenantId: tenant.id,
        dataSubjectId: subjectId,
        category: "CONTACT",
        purposes: ["SUPPORT"],
        value: { a: 1 },
        storageLocationCode: MARK.repeat(100_000),
      },
    });
    assert.equal(result.errors?.[0].extensions.code, "RESIDENCY_VIOLATION");
    assert.match(result.errors![0].message, /stored in EU/);
    assert.doesNotMatch(JSON.stringify(result), new RegExp(MARK));
  });

  it("names the field that does not fit by coercing it, not by reading a message a value can steer", async () => {
    const value = { [`x at "input.${MARK}"; `]: 1 };
    const result = await app.as(principals.integration(tenant.id)).gql(RECORD, {
      input: { tenantId: tenant.id, dataSubjectId: subjectId, category: "NOT_A_CATEGORY", purposes: ["SUPPORT"], value },
    });
    assert.equal(result.errors?.[0].extensions.code, "BAD_USER_INPUT");
    assert.equal(result.errors?.[0].extensions.field, "input.category");
    assert.doesNotMatch(JSON.stringify(result), new RegExp(MARK));
    const nested = await app
      .as(principals.integration(tenant.id))
      .gql(`mutation($input: RecordPersonalDataBatchInput!) { recordPersonalDataBatch(input: $input) { count } }`, {
        input: {
          tenantId: tenant.id,
          records: [
            { dataSubjectId: subjectId, category: "CONTACT", purposes: ["SUPPORT"], value },
            { dataSubjectId: subjectId, category: "CONTACT", purposes: [MARK], value },
          ],
        },
      });
    assert.equal(nested.errors?.[0].extensions.field, "input.records[1].purposes[0]");
    assert.doesNotMatch(JSON.stringify(nested), new RegExp(MARK));
  });

  it("answers a forged cursor with a time PostgreSQL cannot hold as BAD_USER_INPUT, on every keyset page", async () => {
    const forged = Buffer.from(JSON.stringify(["-271821-04-20T00:00:00.000Z", subjectId])).toString("base64url");
    const operator = app.as(principals.operator());
    for (const query of [
      `query($a: String) { tenants(first: 2, after: $a) { totalCount } }`,
      `query($a: String, $t: ID!) { tenant(id: $t) { personalDataRecords(first: 2, after: $a) { nodes { id } } } }`,
      `query($a: String, $t: ID!) { tenant(id: $t) { dataSubjects(first: 2, after: $a) { nodes { id } } } }`,
    ]) {
      const result = await operator.gql(query, { a: forged, t: tenant.id });
      assert.equal(result.errors?.[0].extensions.code, "BAD_USER_INPUT", `${query}: ${JSON.stringify(result.errors)}`);
      assert.equal(result.errors?.[0].extensions.field, "after");
    }
  });
});
