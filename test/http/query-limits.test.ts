import type { SealedValues } from "../../src/modules/personal-data/sealed-values";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { RequestContext } from "../../src/context";
import { AuditService } from "../../src/modules/audit/audit.service";
import type { DataSubjectService } from "../../src/modules/data-subject/data-subject.service";
import { ExportService, MAX_CONCURRENT_EXPORTS } from "../../src/modules/personal-data/export.service";
import { QUERY_LIMITS } from "../../src/shared/graphql/query-limits";
import { type TestApp, principals, roles, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant, registerSubject } from "../helpers/factories";

/** `{ tenant { personalDataRecords(first: 1) { nodes { subject { tenant { … id } } } } } }` nested to `depth` fields. */
function deepQuery(depth: number): string {
  const chain = ["personalDataRecords(first: 1)", "nodes", "subject", "tenant"];
  let open = "tenant(id: $id) {";
  let close = "}";
  for (let d = 2; d < depth; d++) {
    open += ` ${chain[(d - 2) % 4]} {`;
    close += "}";
  }
  return `query($id: ID!) { ${open} id ${close} }`;
}

const introspection = `{ __schema { queryType { name } types { name fields { name type { name kind ofType { name kind ofType { name kind ofType { name kind ofType { name kind } } } } } } } } }`;

describe("query limits", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  let tenantId: string;

  before(async () => {
    app = await startTestApp();
    as = roles(app);
    tenantId = (await createTenant(app)).id;
  });
  after(() => app.close());

  const refusedFor = async (query: string, variables: Record<string, unknown> = {}) => {
    const result = await as.asOperator().gql(query, variables);
    return result.errors?.find((e) => e.extensions.code === "QUERY_TOO_COMPLEX") ?? null;
  };

  it(`refuses depth above ${QUERY_LIMITS.depth}, naming the limit; introspection is exempt`, async () => {
    assertOk(await as.asOperator().gql(deepQuery(QUERY_LIMITS.depth), { id: tenantId }));
    const refused = await refusedFor(deepQuery(QUERY_LIMITS.depth + 1), { id: tenantId });
    assert.match(refused?.message ?? "", /Query too complex: Query depth limit of 10 exceeded/);
    assertOk(await as.asPartner().gql(introspection));
  });

  it(`refuses more than ${QUERY_LIMITS.aliases} aliases`, async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: viewer { role }`).join(" ")} }`;
    assertOk(await as.asOperator().gql(aliases(QUERY_LIMITS.aliases)));
    assert.match((await refusedFor(aliases(QUERY_LIMITS.aliases + 1)))?.message ?? "", /Aliases limit of 15/i);
  });

  it(`refuses more than ${QUERY_LIMITS.directives} directives`, async () => {
    const directives = (n: number) => `{ viewer { ${Array.from({ length: n }, () => "role @include(if: true)").join(" ")} } }`;
    assertOk(await as.asOperator().gql(directives(QUERY_LIMITS.directives)));
    assert.match((await refusedFor(directives(QUERY_LIMITS.directives + 1)))?.message ?? "", /Directives limit of 20/i);
  });

  it(`refuses documents of more than ${QUERY_LIMITS.tokens} tokens`, async () => {
    // 16 tokens of operation, field and arguments, plus one per list item.
    const tokens = (n: number) =>
      `mutation { addAffectedTenants(incidentId: "00000000-0000-4000-8000-000000000000", tenantIds: [${Array(n - 16)
        .fill('"x"')
        .join(" ")}]) { id } }`;
    const atLimit = await as.asOperator().gql(tokens(QUERY_LIMITS.tokens));
    assert.notEqual(atLimit.errors?.[0].extensions.code, "QUERY_TOO_COMPLEX");
    assert.match((await refusedFor(tokens(QUERY_LIMITS.tokens + 1)))?.message ?? "", /more than 3000 tokens/);
  });

  it(`refuses an estimated cost above ${QUERY_LIMITS.cost}, counting page sizes from first`, async () => {
    // tenants(first: F) { nodes { id name } } costs 1 + F × 3.
    assert.equal(await refusedFor(`{ tenants(first: 3333) { nodes { id name } } }`), null, "cost 10000: within the budget");
    assert.match((await refusedFor(`{ tenants(first: 3334) { nodes { id name } } }`))?.message ?? "", /cost 10003 exceeds the cost limit of 10000/);
    assert.match(
      (await refusedFor(`query($f: Int) { tenants(first: $f) { nodes { id name } } }`, { f: 3334 }))?.message ?? "",
      /cost limit/,
      "variables count too",
    );
    // A cost is remembered per document and variables: the same document, other variables, is costed again.
    const byVariable = `query($f: Int) { tenants(first: $f) { nodes { id } } }`;
    for (const [f, refused] of [
      [10, false],
      [5000, true],
      [10, false],
      [5000, true],
    ] as const) {
      assert.equal((await refusedFor(byVariable, { f })) !== null, refused, `first: ${f}`);
    }
    // A page of 500 with a nested page of 6: large but legitimate.
    assertOk(await as.asOperator().gql(`{ tenants(first: 500) { nodes { id dataSubjects(first: 6) { nodes { id } } } } }`));
    // Nested default pages (50 × 50) add up.
    assert.ok(await refusedFor(`{ tenants { nodes { dataSubjects { nodes { records { nodes { id } } } } } } }`));
  });

  it("refuses before execution: nothing is written", async () => {
    const mutation = `mutation { ${Array.from({ length: 16 }, (_, i) => `t${i}: createTenant(input: { name: "Alias ${i}", storageLocationCode: "EU" }) { id }`).join(" ")} }`;
    assertError(await as.asOperator().gql(mutation), "QUERY_TOO_COMPLEX");
    const [{ n }] = await app.db.query("SELECT count(*)::int AS n FROM tenant WHERE name LIKE 'Alias %'");
    assert.equal(n, 0);
  });
});

describe("introspection, suggestions and the landing page in production", () => {
  let app: TestApp;
  let dev: TestApp;

  before(async () => {
    app = await startTestApp({ production: true });
    dev = await startTestApp();
  });
  after(async () => {
    await app.close();
    await dev.close();
  });

  it("allows introspection to every authenticated role and refuses it anonymously", async () => {
    const t = await createTenant(app);
    const r = roles(app);
    for (const who of [r.asPartner(), r.asOperator(), r.asTenantAdmin(t.id), r.asIntegration(t.id), r.asAuditor(t.id), r.asSubject(t.id, t.id)]) {
      assert.equal(assertOk(await who.gql(introspection)).__schema.queryType.name, "Query");
    }
    assertError(await r.anonymous().gql(introspection), "UNAUTHENTICATED");
    assertError(await r.anonymous().gql(`{ __type(name: "Tenant") { name } }`), "UNAUTHENTICATED");
    assert.ok(assertOk(await roles(dev).anonymous().gql(`{ __type(name: "Tenant") { name } }`)).__type, "outside production anonymous introspection works");
  });

  it("hides 'did you mean' suggestions", async () => {
    const prod = await roles(app).asPartner().gql(`{ viewr { role } }`);
    assert.doesNotMatch(JSON.stringify(prod.errors), /Did you mean/);
    const development = await roles(dev).asPartner().gql(`{ viewr { role } }`);
    assert.match(JSON.stringify(development.errors), /Did you mean/);
  });

  it("serves no landing page", async () => {
    const page = (url: string) =>
      fetch(url, { headers: { accept: "text/html" } }).then(async (r) => ({ status: r.status, html: (await r.text()).includes("<html") }));
    assert.equal((await page(dev.server.url)).html, true);
    assert.equal((await page(app.server.url)).html, false);
  });
});

describe("what values and exports cost", () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  it("prices a value by the bytes it may carry: one page of 500 values fits, two do not, nor nine aliased", async () => {
    const tenant = await createTenant(app);
    const admin = app.as(principals.tenantAdmin(tenant.id));
    const page = (alias: string) => `${alias}: personalDataRecords(first: 500) { nodes { id value(purpose: SUPPORT) } }`;
    assert.equal((await admin.gql(`query($t: ID!) { tenant(id: $t) { ${page("a")} } }`, { t: tenant.id })).errors, undefined);
    for (const n of [2, 9]) {
      const pages = Array.from({ length: n }, (_, i) => page(`p${i}`)).join(" ");
      assertError(await admin.gql(`query($t: ID!) { tenant(id: $t) { ${pages} } }`, { t: tenant.id }), "QUERY_TOO_COMPLEX");
    }
  });

  it("allows one export per request", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const admin = app.as(principals.tenantAdmin(tenant.id));
    assert.equal((await admin.gql(`query($s: ID!) { exportDataSubject(id: $s, onRequest: "T-1") { generatedAt } }`, { s: subject.id })).errors, undefined);
    assertError(
      await admin.gql(
        `query($s: ID!) { a: exportDataSubject(id: $s, onRequest: "T-1") { generatedAt } b: exportDataSubject(id: $s, onRequest: "T-1") { generatedAt } }`,
        { s: subject.id },
      ),
      "QUERY_TOO_COMPLEX",
    );
  });
});

describe("exports at once", () => {
  it(`are at most ${MAX_CONCURRENT_EXPORTS} per process; more are refused, retryable, and the limit frees as they end`, async () => {
    const waiting: Array<() => void> = [];
    // A subject lookup that waits until released: the exports stay in flight as long as the test wants.
    const subjects = { findVisible: () => new Promise<null>((ok) => waiting.push(() => ok(null))) } as unknown as DataSubjectService;
    const exports = new ExportService(subjects, new AuditService(), { ofRecords: () => Promise.resolve([]) }, {} as SealedValues, () => Promise.resolve());
    const ctx = { audit: {}, principal: principals.subject(randomUUID(), randomUUID()) } as unknown as RequestContext;
    const inFlight = Array.from({ length: MAX_CONCURRENT_EXPORTS }, () => exports.export(ctx, randomUUID(), null).catch((e: unknown) => e));
    await assert.rejects(
      exports.export(ctx, randomUUID(), null),
      (e: { extensions?: { code?: string; retryAfterSeconds?: number } }) => e.extensions?.code === "RATE_LIMITED" && e.extensions.retryAfterSeconds === 5,
    );
    for (const release of waiting.splice(0)) release();
    await Promise.all(inFlight);
    const next = exports.export(ctx, randomUUID(), null).catch((e: { extensions?: { code?: string } }) => e.extensions?.code);
    for (const release of waiting.splice(0)) release();
    assert.equal(await next, "NOT_FOUND", "a slot is free again (the stub finds no subject)");
  });
});
