import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type TestApp, roles, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant, recordData, registerSubject } from "../helpers/factories";
import { countStatements } from "../helpers/statements";

const FULL = `totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id category status createdAt storageLocation { code } subject { id status } } }`;
/** Selections the join reads differently: without cursors, cursors without pageInfo, ids it fills in from the tenant. */
const PARTIAL = [`nodes { id tenant { id } subject { id tenant { id } } }`, `edges { cursor node { id } }`, `pageInfo { hasNextPage } nodes { id status }`];
const RECORDS = (args: string, selection = FULL) => `personalDataRecords(${args}) { ${selection} }`;
const DASHBOARD = (tenants: number | string, args: string, selection = FULL) =>
  `{ tenants(${typeof tenants === "number" ? `first: ${tenants}` : tenants}) { totalCount nodes { id name storageLocation { code name } ${RECORDS(args, selection)} } } }`;
/**
 * The reference: a tenant reached through one of its records, whose page its own resolver reads
 * (tenant(id) joins the page into its statement as the tenants page does).
 */
const ONE_TENANT = (args: string, selection = FULL) =>
  `query($rid: ID!) { personalDataRecord(id: $rid) { tenant { id name storageLocation { code name } ${RECORDS(args, selection)} } } }`;

/**
 * The tenants page fetches its tenants' locations, record pages and subjects in one
 * statement (look-ahead), and answers exactly what each field's own resolver answers.
 */
describe("dashboard: the tenants page in one statement", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  const tenantIds: string[] = [];
  /** One record id of each tenant, to reach the tenant through (ONE_TENANT). */
  const recordOf = new Map<string, string>();
  const ownTenant = async (args: string, id: string, selection = FULL) =>
    assertOk(await as.asOperator().gql(ONE_TENANT(args, selection), { rid: recordOf.get(id) })).personalDataRecord.tenant;

  before(async () => {
    app = await startTestApp();
    as = roles(app);
    for (let t = 0; t < 3; t++) {
      const tenant = await createTenant(app, { storageLocationCode: t === 1 ? "US" : "EU" });
      tenantIds.push(tenant.id);
      for (let s = 0; s < 2; s++) {
        const subject = await registerSubject(app, tenant.id);
        for (let r = 0; r < 3; r++) recordOf.set(tenant.id, (await recordData(app, tenant.id, subject.id, { category: r === 0 ? "DEVICE" : "CONTACT" })).id);
      }
    }
  });
  after(() => app.close());

  /** Page arguments whose page starts at this file's first tenant (other files add tenants too). */
  async function fromOurTenants(): Promise<string> {
    const edges = assertOk(await as.asOperator().gql(`{ tenants(first: 500) { edges { cursor node { id } } } }`)).tenants.edges;
    const at = edges.findIndex((e: any) => e.node.id === tenantIds[0]);
    return at === 0 ? "first: 10" : `first: 10, after: "${edges[at - 1].cursor}"`;
  }

  it("takes one statement on control for the page and one on each region holding its tenants, whatever the page sizes", async () => {
    for (const [tenants, records] of [
      [2, 1],
      [3, 50],
      [20, 20],
    ]) {
      const query = DASHBOARD(tenants, `first: ${records}`);
      const { result, statements } = await countStatements(() => as.asOperator().gql(query));
      const nodes = assertOk(result).tenants.nodes;
      assert.ok(nodes.length >= Math.min(tenants, 3));
      const regions = new Set(nodes.map((t: { storageLocation: { code: string } }) => t.storageLocation.code)).size;
      // Control: the directory's page. Each region holding some of the page's tenants, side by
      // side: those tenants with everything below them. Each carries its scope in its own round trip.
      const pages = statements.filter((s) => s.startsWith("SELECT json_build_array(t.id"));
      assert.equal(pages.length, regions, statements.map((s) => s.slice(0, 40)).join(" | "));
      assert.equal(
        statements.length,
        1 + regions,
        `${statements.length} round trips for ${tenants} x ${records}: ${statements.map((s) => s.slice(0, 40)).join(" | ")}`,
      );
    }
  });

  it("reads one tenant with its record page, values included, in one statement (then only the audit)", async () => {
    const query = `query($id: ID!) { tenant(id: $id) { id personalDataRecords(first: 50) { totalCount nodes { id subject { id } value(purpose: SUPPORT) } } } }`;
    const { result, statements } = await countStatements(() => as.asTenantAdmin(tenantIds[0]).gql(query, { id: tenantIds[0] }));
    const page = assertOk(result).tenant.personalDataRecords;
    assert.equal(page.nodes.length, 6);
    assert.deepEqual(page.nodes[0].value, { email: "person@example.test" });
    // The tenant with its page, then the audit of the values (committed as it runs); the scope
    // travels with each. Besides, at most one statement to the key store for the values' keys
    // (none when they are cached).
    const keys = statements.filter((s) => /\bFROM unnest\(\$1::uuid\[\], \$2::int\[\]\) AS want/.test(s));
    assert.ok(keys.length <= 1, "one key store statement at most");
    assert.equal(statements.length - keys.length, 2, statements.map((s) => s.slice(0, 40)).join(" | "));
  });

  it("counts a tenant's records only when the query asks for totalCount, joined or not", async () => {
    // A whole tenant's page reads its tally (record-tally.test.ts); a filtered one counts.
    const counts = (statements: string[]) => statements.filter((s) => /\bcount\(|personal_data_record_tally/i.test(s)).length;
    const joined = (fields: string) => `query($id: ID!) { tenant(id: $id) { personalDataRecords(first: 2) { ${fields} } } }`;
    const own = (fields: string) => `query($rid: ID!) { personalDataRecord(id: $rid) { tenant { personalDataRecords(first: 2) { ${fields} } } } }`;
    const variables = { id: tenantIds[0], rid: recordOf.get(tenantIds[0]) };
    const pageOf = (data: any) => (data.tenant ?? data.personalDataRecord.tenant).personalDataRecords;
    for (const query of [joined, own]) {
      const without = await countStatements(() => as.asOperator().gql(query("nodes { id }"), variables));
      assert.equal(pageOf(assertOk(without.result)).nodes.length, 2);
      assert.equal(counts(without.statements), 0);
      const withCount = await countStatements(() => as.asOperator().gql(query("totalCount nodes { id }"), variables));
      assert.equal(pageOf(assertOk(withCount.result)).totalCount, 6);
      assert.equal(counts(withCount.statements), 1);
    }
  });

  it("answers as each tenant's own resolvers do: counts, pages, cursors, filters and subjects", async () => {
    const asAdmin = () => as.asOperator();
    for (const args of [
      "first: 2",
      "first: 50",
      "first: 2, filter: { category: CONTACT }",
      "first: 1, filter: { status: ACTIVE, category: DEVICE }",
      `first: 5, filter: { dataSubjectId: "" }`,
      `first: 5, filter: { dataSubjectId: "not-a-uuid" }`,
    ]) {
      const page = assertOk(await asAdmin().gql(DASHBOARD(await fromOurTenants(), args))).tenants;
      for (const id of tenantIds) {
        const joined = page.nodes.find((t: any) => t.id === id);
        const own = await ownTenant(args, id);
        assert.deepEqual(JSON.parse(JSON.stringify(joined)), JSON.parse(JSON.stringify(own)), args);
      }
    }
    for (const selection of PARTIAL) {
      for (const args of ["first: 2", "first: 6", "first: 50"]) {
        const page = assertOk(await asAdmin().gql(DASHBOARD(await fromOurTenants(), args, selection))).tenants;
        for (const id of tenantIds) {
          const own = await ownTenant(args, id, selection);
          assert.deepEqual(JSON.parse(JSON.stringify(page.nodes.find((t: any) => t.id === id))), JSON.parse(JSON.stringify(own)), `${args} ${selection}`);
        }
      }
    }
    // A cursor taken from the tenant's own page continues the joined page at the same place.
    const first = (await ownTenant("first: 2", tenantIds[0])).personalDataRecords;
    const args = `first: 3, after: "${first.pageInfo.endCursor}"`;
    const joined = assertOk(await asAdmin().gql(DASHBOARD(await fromOurTenants(), args))).tenants.nodes.find(
      (t: any) => t.id === tenantIds[0],
    ).personalDataRecords;
    const own = (await ownTenant(args, tenantIds[0])).personalDataRecords;
    assert.deepEqual(JSON.parse(JSON.stringify(joined)), JSON.parse(JSON.stringify(own)));
    assert.equal(joined.edges.length, 3);
  });

  it("keeps every field's rules: an operator's dashboard still may not read who a subject is", async () => {
    // From this suite's tenants: on a reused database the first ten may hold no record at all.
    assertError(
      await as.asOperator().gql(DASHBOARD(await fromOurTenants(), "first: 5").replace("subject { id status }", "subject { id externalId }")),
      "FORBIDDEN",
    );
    const listed = assertOk(
      await as
        .asOperator()
        .gql(`{ tenants(${await fromOurTenants()}) { nodes { id personalDataRecords(first: 5) { totalCount nodes { id subject { id status } } } } } }`),
    ).tenants.nodes;
    for (const id of tenantIds) {
      const tenant = listed.find((t: any) => t.id === id);
      assert.equal(tenant.personalDataRecords.totalCount, 6);
      assert.equal(tenant.personalDataRecords.nodes.length, 5);
    }
  });

  it("answers __typename next to joined pages, on the tenants page and on one tenant", async () => {
    const page = `personalDataRecords(first: 1) { __typename nodes { __typename id } }`;
    const listed = assertOk(await as.asOperator().gql(`{ tenants(${await fromOurTenants()}) { nodes { __typename id ${page} } } }`)).tenants.nodes;
    assert.equal(listed.find((t: any) => t.id === tenantIds[0]).personalDataRecords.nodes[0].__typename, "PersonalDataRecord");
    const one = assertOk(await as.asTenantAdmin(tenantIds[0]).gql(`query($id: ID!) { tenant(id: $id) { __typename ${page} } }`, { id: tenantIds[0] })).tenant;
    assert.equal(one.__typename, "Tenant");
    assert.equal(one.personalDataRecords.nodes.length, 1);
  });

  it("leaves arguments the field would refuse to the field: a bad cursor or page size is still BAD_USER_INPUT", async () => {
    assertError(await as.asOperator().gql(DASHBOARD(2, `first: 2, after: "not-a-cursor"`)), "BAD_USER_INPUT");
    assertError(await as.asOperator().gql(`{ tenants(first: 1) { nodes { personalDataRecords(first: 501) { totalCount } } } }`), "BAD_USER_INPUT");
  });
});
