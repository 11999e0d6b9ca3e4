import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { containsNul } from "../src/shared/graphql/nul-characters";
import { type TestApp, principals, startTestApp } from "./helpers/app";
import { assertError } from "./helpers/assertions";
import { RECORD, createTenant, registerSubject } from "./helpers/factories";

describe("containsNul", () => {
  it("finds U+0000 in any string of a value, keys included, and nowhere else", () => {
    assert.equal(containsNul("a\u0000b"), true);
    assert.equal(containsNul({ input: { list: ["ok", { deep: "x\u0000" }] } }), true);
    assert.equal(containsNul({ ["k\u0000"]: 1 }), true);
    assert.equal(containsNul({ input: { name: "plain", n: 0, none: null, flag: false, list: ["\u0001"] } }), false);
    assert.equal(containsNul(undefined), false);
  });
});

/** PostgreSQL stores no U+0000 in text or jsonb: the fuzz test found it answered INTERNAL_SERVER_ERROR. */
describe("text with a NUL character", () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  it("is refused with BAD_USER_INPUT before anything is written, in variables and in the document", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const count = async () => (await app.db.query("SELECT (SELECT count(*) FROM tenant)::int + (SELECT count(*) FROM personal_data_record)::int AS n"))[0].n;
    const before = await count();
    const operator = app.as(principals.operator());
    const create = `mutation($input: CreateTenantInput!) { createTenant(input: $input) { id } }`;
    for (const input of [{ name: "NULMARK\u0000", storageLocationCode: "EU" }, { name: "ok", storageLocationCode: "EU\u0000" }]) {
      const result = await operator.gql(create, { input });
      assertError(result, "BAD_USER_INPUT");
      assert.doesNotMatch(JSON.stringify(result), /NULMARK/);
    }
    assertError(await operator.gql(`mutation { createTenant(input: { name: "a\\u0000b", storageLocationCode: "EU" }) { id } }`), "BAD_USER_INPUT");
    const value = { tenantId: tenant.id, dataSubjectId: subject.id, category: "CONTACT", purposes: ["SUPPORT"], value: { note: "a\u0000b" } };
    assertError(await app.as(principals.integration(tenant.id)).gql(RECORD, { input: value }), "BAD_USER_INPUT");
    assert.equal(await count(), before);
  });
});
