import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { hasMoreKeysThan, jsonProblem, textProblem } from "../../src/shared/graphql/variable-limits";
import { type TestApp, principals, startTestApp } from "../helpers/app";
import { assertError } from "../helpers/assertions";
import { RECORD, createTenant, registerSubject } from "../helpers/factories";

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

  it("finds what would not be stored as sent: lone surrogates, infinite and inexact numbers", () => {
    assert.equal(textProblem("a\uD800b"), "LONE_SURROGATE");
    assert.equal(textProblem("\uDC00"), "LONE_SURROGATE");
    assert.equal(textProblem("pair \uD83D\uDE00 and é"), null);
    assert.equal(jsonProblem(JSON.parse(`{"\\ud800": 1}`), 40), "LONE_SURROGATE", "in a key");
    assert.equal(jsonProblem(JSON.parse(`{"n": 1e400}`), 40), "INEXACT_NUMBER");
    assert.equal(jsonProblem(JSON.parse(`{"n": 12345678901234567890}`), 40), "INEXACT_NUMBER");
    assert.equal(jsonProblem({ n: Number.MAX_SAFE_INTEGER, m: -Number.MAX_SAFE_INTEGER, f: 0.1, g: 1.5e-300 }, 40), null);
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
    for (const input of [
      { name: "NULMARK\u0000", storageLocationCode: "EU" },
      { name: "ok", storageLocationCode: "EU\u0000" },
    ]) {
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

/** Input is stored as sent or refused: never silently changed on its way to PostgreSQL. */
describe("input that would not be stored as sent", () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  /** Posts a raw JSON text: 1e400 and lone surrogates do not survive JSON.stringify as they were sent. */
  const postRaw = async (token: string, body: string) => {
    const response = await fetch(app.server.url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body });
    return {
      status: response.status,
      body: (await response.json()) as { data?: any; errors?: Array<{ message: string; extensions: Record<string, unknown> }> },
    };
  };

  it("refuses lone surrogates and numbers that would change, in variables and in literals, and writes nothing", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const integration = await app.token(principals.integration(tenant.id));
    const admin = await app.token(principals.tenantAdmin(tenant.id));
    const records = async () => (await app.db.query(`SELECT count(*)::int AS n FROM personal_data_record WHERE tenant_id = $1`, [tenant.id]))[0].n;
    const subjects = async () => (await app.db.query(`SELECT count(*)::int AS n FROM data_subject WHERE tenant_id = $1`, [tenant.id]))[0].n;
    const [recordsBefore, subjectsBefore] = [await records(), await subjects()];
    const record = (value: string, key = "") =>
      `{"query":"mutation($i: RecordPersonalDataInput!) { recordPersonalData(input: $i) { id } }","variables":{"i":{"tenantId":"${tenant.id}","dataSubjectId":"${subject.id}","category":"DEVICE","purposes":["SUPPORT"],"value":${value}${key}}}}`;
    for (const [label, body, token] of [
      ["1e400", record(`{"n": 1e400}`), integration],
      ["a 20-digit integer", record(`{"n": 12345678901234567890}`), integration],
      ["a lone surrogate in a value", record(`{"s": "\\ud800"}`), integration],
      ["a lone surrogate in a key", record(`{"\\udc00": 1}`), integration],
      ["a lone surrogate in an idempotency key", record(`{"ok": 1}`, `,"idempotencyKey":"k\\ud800"`), integration],
      [
        "a lone surrogate in an external id",
        `{"query":"mutation($i: RegisterDataSubjectInput!) { registerDataSubject(input: $i) { id } }","variables":{"i":{"tenantId":"${tenant.id}","externalId":"x\\ud800","displayName":"ok"}}}`,
        admin,
      ],
      [
        "a lone surrogate in a literal",
        `{"query":"mutation { registerDataSubject(input: { tenantId: \\"${tenant.id}\\", externalId: \\"x\\\\ud800\\", displayName: \\"ok\\" }) { id } }"}`,
        admin,
      ],
    ] as const) {
      const answer = await postRaw(token, body);
      assert.equal(answer.status, 400, `${label}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.errors?.[0].extensions.code, "BAD_USER_INPUT", label);
    }
    // A literal value reaches the record's own check (the variables' walk never sees it).
    const literal = await postRaw(
      integration,
      `{"query":"mutation { recordPersonalData(input: { tenantId: \\"${tenant.id}\\", dataSubjectId: \\"${subject.id}\\", category: DEVICE, purposes: [SUPPORT], value: { n: 1e400 } }) { id } }"}`,
    );
    assert.equal(literal.body.errors?.[0].extensions.code, "BAD_USER_INPUT", JSON.stringify(literal.body));
    assert.equal(literal.body.errors?.[0].extensions.field, "value");
    assert.deepEqual([await records(), await subjects()], [recordsBefore, subjectsBefore], "nothing was written");

    // What is exact is stored exactly.
    const exact = await postRaw(integration, record(`{"max": 9007199254740991, "f": 0.1, "emoji": "\\ud83d\\ude00"}`));
    assert.equal(exact.body.errors, undefined, JSON.stringify(exact.body));
    const read = await app
      .as(principals.tenantAdmin(tenant.id))
      .gql(`query($id: ID!) { personalDataRecord(id: $id) { value(purpose: SUPPORT) } }`, { id: exact.body.data.recordPersonalData.id });
    assert.deepEqual(read.data?.personalDataRecord.value, { max: 9007199254740991, f: 0.1, emoji: "😀" });
  });

  it("audits removing a key named `constructor` as a change", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const integration = app.as(principals.integration(tenant.id));
    const created = await integration.gql(RECORD, {
      input: { tenantId: tenant.id, dataSubjectId: subject.id, category: "DEVICE", purposes: ["SUPPORT"], value: JSON.parse(`{"constructor": "x", "a": 1}`) },
    });
    const id = created.data!.recordPersonalData.id;
    const corrected = await integration.gql(`mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { version } }`, {
      input: { id, expectedVersion: 1, value: { a: 1 } },
    });
    assert.equal(corrected.errors, undefined, JSON.stringify(corrected.errors));
    const [entry] = await app.db.query(`SELECT details FROM audit_log WHERE target_id = $1 AND action = 'RECORD_CORRECTED' ORDER BY chain_seq DESC LIMIT 1`, [
      id,
    ]);
    assert.deepEqual([entry.details.changedFields, entry.details.keysRemoved], [["value"], 1]);
  });
});
