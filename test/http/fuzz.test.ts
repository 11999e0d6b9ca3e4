import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { getNamedType, isEnumType, isInputObjectType, isListType, isNonNullType, isScalarType, type GraphQLField, type GraphQLInputType } from "graphql";
import { createSchema } from "../../src/schema";
import { type TestApp, principals, startTestApp, TEST_AUDIT_SIGNER } from "../helpers/app";
import { createTenant } from "../helpers/factories";
import { isolatedDatabase } from "../helpers/isolated-db";

const RUNS = Number(process.env.FUZZ_RUNS ?? 600);
const MARK = "FUZZMARK";

/** Strings that tend to break things: malformed ids, SQL, huge, control characters, all carrying the marker. */
const nastyString = fc.oneof(
  fc.constantFrom(
    `${MARK}`,
    `' OR 1=1 -- ${MARK}`,
    `${MARK}"); DROP TABLE tenant; --`,
    `${MARK}\u0000\u0001`,
    `${MARK}-not-a-uuid`,
    `<script>${MARK}</script>`,
  ),
  fc.string({ maxLength: 40 }).map((s) => `${MARK}${s}`),
  fc.constantFrom(MARK.padEnd(70_000, "x"), `${MARK}${"é".repeat(300)}`),
  fc.uuid().map((u) => u),
  fc.constant(""),
);

function arbitraryFor(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return fc.oneof({ weight: 9, arbitrary: arbitraryFor(type.ofType, depth) }, { weight: 1, arbitrary: fc.constant(null) });
  if (isListType(type)) {
    return fc.oneof(
      fc.array(arbitraryFor(type.ofType, depth + 1), { maxLength: 3 }),
      arbitraryFor(type.ofType, depth + 1),
      fc.constant(Array(1001).fill(MARK)),
    );
  }
  const named = getNamedType(type);
  if (isEnumType(named)) return fc.oneof(fc.constantFrom(...named.getValues().map((v) => v.value as string)), nastyString);
  if (isInputObjectType(named)) {
    if (depth > 3) return fc.constant({});
    const fields = Object.values(named.getFields());
    const shaped = fc.record(Object.fromEntries(fields.map((f) => [f.name, arbitraryFor(f.type, depth + 1)])), { requiredKeys: [] });
    return fc.oneof(
      { weight: 8, arbitrary: shaped },
      { weight: 1, arbitrary: shaped.map((o) => ({ ...o, [`${MARK}extra`]: 1 })) },
      { weight: 1, arbitrary: nastyString },
    );
  }
  if (isScalarType(named)) {
    switch (named.name) {
      case "Int":
        return fc.oneof(fc.integer(), fc.constantFrom(0, -1, 2 ** 31, 1e15, 1.5), nastyString);
      case "Boolean":
        return fc.oneof(fc.boolean(), nastyString);
      case "DateTimeISO":
        return fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          nastyString,
          fc.integer(),
        );
      case "JSONObject":
        return fc.oneof(
          fc.dictionary(fc.string({ maxLength: 8 }), nastyString, { maxKeys: 4 }),
          fc.jsonValue({ maxDepth: 2 }),
          fc.constant({ big: MARK.padEnd(70_000, "y") }),
          nastyString,
        );
      default:
        return nastyString;
    }
  }
  return fc.constant(null);
}

/** Broken documents; values in them carry the marker (names of unknown fields may be echoed, values never). */
const BROKEN_DOCUMENTS = [
  `mutation { createTenant(input: { name: "${MARK}" storageLocationCode: "EU" }) { id }`,
  `mutation { createTenant(input: { name: 12, storageLocationCode: ["${MARK}"] }) { id } }`,
  `mutation { bogusField(x: "${MARK}") { id } }`,
  `mutation { createTenant(input: { name: "${MARK}", storageLocationCode: "EU", bogus: 1 }) { id } }`,
  `{ tenant(id: "${MARK}") { id bogus } }`,
  `mutation($x: Bogus) { createTenant(input: $x) { id } }`,
  `"${MARK}`,
  `{ viewer { role } } mutation { createTenant }`,
  `query { tenant(id: 1.5) { id } }`,
  `mutation { reportSecurityIncident(input: { title: "${MARK}", description: "${MARK}", severity: EXTREME, detectedAt: "${MARK}", affectedTenantIds: [] }) { id } }`,
];

/**
 * Malformed ids, oversized and wrongly typed inputs and broken documents for
 * every mutation. No response is INTERNAL_SERVER_ERROR, none carries SQL, a stack trace or a
 * submitted value in its errors.
 */
describe("error hygiene, fuzzed", () => {
  let app: TestApp;
  let drop: () => Promise<void>;
  let mutations: Array<GraphQLField<unknown, unknown>>;
  let callers: ReturnType<typeof principals.operator>[];

  before(async () => {
    const db = await isolatedDatabase();
    drop = db.drop;
    app = await startTestApp({ databaseUrl: db.url });
    // The test clock and retention run are left out: they act on the whole database by design.
    mutations = Object.values((await createSchema({ auditSigner: TEST_AUDIT_SIGNER })).getMutationType()!.getFields()).filter(
      (f) => !["runRetention", "setTestClock"].includes(f.name),
    );
    const tenant = await createTenant(app);
    callers = [principals.operator(), principals.tenantAdmin(tenant.id), principals.integration(tenant.id), principals.subject(tenant.id, randomUUID())];
  });
  after(async () => {
    await app.close();
    await drop();
  });

  const check = (label: string, result: { errors?: Array<{ message: string; extensions: Record<string, unknown> }> }) => {
    for (const error of result.errors ?? []) {
      const text = JSON.stringify(error);
      assert.notEqual(error.extensions.code, "INTERNAL_SERVER_ERROR", `${label}: ${text.slice(0, 300)}`);
      assert.doesNotMatch(text, new RegExp(MARK), `${label} echoes a submitted value: ${text.slice(0, 300)}`);
      assert.doesNotMatch(
        text,
        /\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET)\b|violates|constraint|relation "|pg_/i,
        `${label} shows SQL: ${text.slice(0, 300)}`,
      );
      assert.doesNotMatch(text, /\n\s+at |\.(ts|js):\d+/, `${label} shows a stack trace: ${text.slice(0, 300)}`);
    }
  };

  it(`survives ${RUNS} fuzzed calls of every mutation`, async () => {
    assert.ok(mutations.length >= 24, `${mutations.length} mutations`);
    const call = fc.oneof(
      ...mutations.map((m) =>
        fc.record({
          field: fc.constant(m),
          variables: fc.record(Object.fromEntries(m.args.map((a) => [a.name, arbitraryFor(a.type)])), { requiredKeys: [] }),
        }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...callers), call, async (caller, { field, variables }) => {
        const definitions = field.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(", ");
        const args = field.args.map((a) => `${a.name}: $${a.name}`).join(", ");
        const query = `mutation${definitions ? `(${definitions})` : ""} { ${field.name}${args ? `(${args})` : ""} { __typename } }`;
        check(`${field.name} as ${caller.role}`, await app.as(caller).gql(query, variables as Record<string, unknown>));
      }),
      { numRuns: RUNS, seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined },
    );
  });

  it("answers broken documents with BAD_USER_INPUT, over HTTP too", async () => {
    const token = await app.token(principals.operator());
    for (const query of BROKEN_DOCUMENTS) {
      check(query, await app.as(principals.operator()).gql(query));
      const response = await fetch(app.server.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query }),
      });
      const body = (await response.json()) as { errors?: Array<{ message: string; extensions: Record<string, unknown> }> };
      check(`HTTP ${query}`, body);
      assert.equal(response.status, 400, `${query}: HTTP ${response.status}`);
      assert.ok(
        body.errors?.every((e) => e.extensions.code === "BAD_USER_INPUT"),
        `${query}: ${JSON.stringify(body.errors)}`,
      );
    }
  });

  it("answers hostile bodies (deep nesting, huge variable counts, unreadable bodies) with a 4xx and a code, anonymous or not", async () => {
    const token = await app.token(principals.operator());
    const nesting = fc.record({ levels: fc.integer({ min: 41, max: 20_000 }), shape: fc.constantFrom("array", "object") }).map(({ levels, shape }) => {
      const inner = shape === "array" ? `${"[".repeat(levels)}"${MARK}"${"]".repeat(levels)}` : `${'{"a":'.repeat(levels)}"${MARK}"${"}".repeat(levels)}`;
      return { label: `${shape} ${levels} deep`, headers: {}, body: `{"query":"query($v: JSONObject) { __typename }","variables":{"v":${inner}}}` };
    });
    const counts = fc.integer({ min: 101, max: 200_000 }).map((n) => ({
      label: `${n} variables`,
      headers: {},
      body: JSON.stringify({ query: "{ __typename }", variables: Object.fromEntries(Array.from({ length: n }, (_, i) => [`${MARK}${i}`, MARK])) }),
    }));
    const unreadable = fc.oneof(
      fc.constantFrom("latin1", "utf-16", "klingon", "us-ascii").map((charset) => ({
        label: `charset ${charset}`,
        headers: { "content-type": `application/json; charset=${charset}` },
        body: `{"query":"{ __typename }"}`,
      })),
      fc
        .constantFrom("compress", "x-unknown", "gzip", "br", "deflate")
        .map((encoding) => ({ label: `encoding ${encoding}`, headers: { "content-encoding": encoding }, body: `{"query":"${MARK}` })),
      fc.string({ maxLength: 60 }).map((text) => ({ label: "broken JSON", headers: {}, body: `{${text}${MARK}` })),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(nesting, counts, unreadable), fc.boolean(), async (probe, authenticated) => {
        const headers: Record<string, string> = {
          "content-type": "application/json",
          ...(authenticated ? { authorization: `Bearer ${token}` } : {}),
          ...probe.headers,
        };
        const response = await fetch(app.server.url, { method: "POST", headers, body: probe.body });
        const text = await response.text();
        const label = `${probe.label}, ${authenticated ? "authenticated" : "anonymous"}`;
        assert.ok([400, 413, 415].includes(response.status), `${label}: HTTP ${response.status} ${text.slice(0, 200)}`);
        assert.match(response.headers.get("content-type") ?? "", /^application\/json/, label);
        const body = JSON.parse(text) as { errors: Array<{ message: string; extensions: Record<string, unknown> }> };
        assert.ok(body.errors.length > 0 && body.errors.every((e) => e.extensions.code === "BAD_USER_INPUT"), `${label}: ${text.slice(0, 200)}`);
        check(label, body);
      }),
      { numRuns: Math.max(30, Math.floor(RUNS / 10)), seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined },
    );
  });
});
