import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { hasMoreKeysThan, jsonProblem } from "../src/shared/graphql/variable-limits";
import { type TestApp, principals, startTestApp } from "./helpers/app";
import { assertError } from "./helpers/assertions";
import { RECORD, createTenant, registerSubject } from "./helpers/factories";

/** `levels` arrays (or objects) inside each other, built without recursion. */
export function nested(levels: number, as: "array" | "object" = "array"): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < levels; i++) value = as === "array" ? [value] : { a: value };
  return value;
}

describe("jsonProblem", () => {
  it("finds U+0000 in any string of a value, keys included, and nowhere else", () => {
    assert.equal(jsonProblem("a\u0000b", 40), "NUL");
    assert.equal(jsonProblem({ input: { list: ["ok", { deep: "x\u0000" }] } }, 40), "NUL");
    assert.equal(jsonProblem({ ["k\u0000"]: 1 }, 40), "NUL");
    assert.equal(jsonProblem({ input: { name: "plain", n: 0, none: null, flag: false, list: ["\u0001"] } }, 40), null);
    assert.equal(jsonProblem(undefined, 40), null);
  });

  it("counts nesting exactly ({} is one level) and walks 100,000 levels without overflowing the stack", () => {
    assert.equal(jsonProblem(nested(32, "object"), 32), null);
    assert.equal(jsonProblem(nested(33, "object"), 32), "TOO_DEEP");
    assert.equal(jsonProblem(nested(32), 32), null);
    assert.equal(jsonProblem(nested(33), 32), "TOO_DEEP");
    assert.equal(jsonProblem(nested(100_000), 40), "TOO_DEEP");
    assert.equal(jsonProblem(nested(100_000, "object"), 200_000), null);
  });

  it("counts keys only up to the limit", () => {
    assert.equal(hasMoreKeysThan({ a: 1, b: 2 }, 2), false);
    assert.equal(hasMoreKeysThan({ a: 1, b: 2, c: 3 }, 2), true);
    assert.equal(hasMoreKeysThan(Object.create({ inherited: 1 }), 0), false);
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
