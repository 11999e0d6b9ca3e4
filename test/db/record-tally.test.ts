import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { onLocation } from "../../src/context";
import { em } from "../../src/shared/db/database";
import { DEFAULT_LOCATION, principals, requestContext, type TestApp, type roles } from "../helpers/app";
import { assertOk } from "../helpers/assertions";
import { at, DELETE, END, lifecycleApp } from "../helpers/lifecycle";

const BATCH = `mutation($input: RecordPersonalDataBatchInput!) { recordPersonalDataBatch(input: $input) { count } }`;
const COUNT = `query($id: ID!) { tenant(id: $id) { personalDataRecords(first: 1) { totalCount } } }`;
const ACTIVE_COUNT = `query($id: ID!) { tenant(id: $id) { personalDataRecords(first: 1, filter: { status: ACTIVE }) { totalCount } } }`;

/** Each tenant's record count, kept by the database as records are written (the RecordTally migration). */
describe("record tallies", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  let lifecycle: Awaited<ReturnType<typeof lifecycleApp>>;

  before(async () => {
    lifecycle = await lifecycleApp();
    ({ app, as } = lifecycle);
  });
  beforeEach(() => app.clock.reset());
  after(() => lifecycle.close());

  const tally = async (tenantId: string): Promise<number | undefined> =>
    (await app.db.query(`SELECT records::int AS n FROM personal_data_record_tally WHERE tenant_id = $1`, [tenantId]))[0]?.n;
  const totalCount = async (tenantId: string, query = COUNT) =>
    assertOk(await as.asOperator().gql(query, { id: tenantId })).tenant.personalDataRecords.totalCount as number;
  /** The tally, the records' own count and the page's totalCount, which must all agree. */
  const agree = async (tenantId: string, expected: number, step: string) => {
    assert.equal(await lifecycle.count("personal_data_record", tenantId), expected, `${step}: rows`);
    assert.equal((await tally(tenantId)) ?? 0, expected, `${step}: tally`);
    assert.equal(await totalCount(tenantId), expected, `${step}: totalCount`);
  };

  it("stays equal to each tenant's records through records, batches, purges and its tenant's purge", async () => {
    const other = await lifecycle.tenantWithRecords(2, 1);
    const { tenant, subject, records } = await lifecycle.tenantWithRecords(3, 1);
    await agree(tenant.id, 3, "three records");
    const items = Array.from({ length: 4 }, (_, i) => ({ dataSubjectId: subject.id, category: "DEVICE", purposes: ["SUPPORT"], value: { i } }));
    assertOk(await as.asIntegration(tenant.id).gql(BATCH, { input: { tenantId: tenant.id, records: items } }));
    await agree(tenant.id, 7, "a batch of four");
    // A refused batch (an unknown subject) writes nothing and counts nothing.
    const refused = await as.asIntegration(tenant.id).gql(BATCH, {
      input: { tenantId: tenant.id, records: [...items, { ...items[0], dataSubjectId: other.subject.id }] },
    });
    assert.ok(refused.errors?.length, "the batch naming another tenant's subject is refused");
    await agree(tenant.id, 7, "a refused batch");

    assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: records[0].id }));
    await agree(tenant.id, 7, "a record pending deletion is still counted");
    app.clock.set(at(2));
    await lifecycle.engine(2).run({ dryRun: false });
    await agree(tenant.id, 6, "its purge");

    assertOk(await as.asTenantAdmin(tenant.id).gql(`mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, { id: subject.id }));
    app.clock.set(at(4));
    await lifecycle.engine(2).run({ dryRun: false });
    await agree(tenant.id, 0, "the subject's purge");
    await agree(other.tenant.id, 2, "the other tenant");

    assertOk(await as.asOperator().gql(END, { id: other.tenant.id }));
    app.clock.set(at(400));
    await lifecycle.engine().run({ dryRun: false });
    assert.equal(await lifecycle.count("personal_data_record", other.tenant.id), 0);
    assert.equal(await tally(other.tenant.id), 0, "a purged tenant counts none");
  });

  it("is what a whole tenant's page counts; a filtered page counts its rows", async () => {
    const { tenant } = await lifecycle.tenantWithRecords(2);
    assert.equal(await totalCount(tenant.id), 2);
    // Proof that the count is the tally's: a tally changed behind the service's back shows.
    await app.db.query(`UPDATE personal_data_record_tally SET records = 99 WHERE tenant_id = $1`, [tenant.id]);
    try {
      assert.equal(await totalCount(tenant.id), 99);
      const dashboard = assertOk(await as.asOperator().gql(`{ tenants(first: 500) { nodes { id personalDataRecords(first: 1) { totalCount } } } }`));
      assert.equal(dashboard.tenants.nodes.find((t: { id: string }) => t.id === tenant.id).personalDataRecords.totalCount, 99);
      assert.equal(await totalCount(tenant.id, ACTIVE_COUNT), 2, "a filter counts rows");
    } finally {
      await app.db.query(`UPDATE personal_data_record_tally SET records = 2 WHERE tenant_id = $1`, [tenant.id]);
    }
  });

  it("answers a page that asks only for its count, or for neither count nor nodes, whatever the caller, filter and cursor", async () => {
    const { tenant, records } = await lifecycle.tenantWithRecords(3);
    const page = assertOk(
      await as.asTenantAdmin(tenant.id).gql(`query($id: ID!) { tenant(id: $id) { personalDataRecords(first: 1) { edges { cursor } } } }`, { id: tenant.id }),
    ).tenant.personalDataRecords;
    const cursor = page.edges[0].cursor;
    for (const caller of [as.asOperator(), as.asTenantAdmin(tenant.id), as.asIntegration(tenant.id)])
      for (const [args, selection, expected] of [
        [`first: 1`, `totalCount`, { totalCount: 3 }],
        [`first: 1, after: "${cursor}"`, `totalCount`, { totalCount: 3 }],
        [`first: 1, filter: { category: CONTACT }`, `totalCount`, { totalCount: 3 }],
        [`first: 1, filter: { category: DEVICE }, after: "${cursor}"`, `totalCount`, { totalCount: 0 }],
        [`first: 1`, `__typename`, { __typename: "PersonalDataRecordConnection" }],
        [`first: 1, filter: { status: ACTIVE }, after: "${cursor}"`, `__typename`, { __typename: "PersonalDataRecordConnection" }],
      ] as const) {
        const answer = assertOk(await caller.gql(`query($id: ID!) { tenant(id: $id) { personalDataRecords(${args}) { ${selection} } } }`, { id: tenant.id }));
        assert.deepEqual({ ...answer.tenant.personalDataRecords }, expected, `${caller.principal?.role} ${args} ${selection}`);
      }
    assert.equal(records.length, 3);
  });

  it("is readable within the caller's scope only and writable by no role of the service", async () => {
    const a = await lifecycle.tenantWithRecords(1);
    const b = await lifecycle.tenantWithRecords(2);
    const ctx = await onLocation(await requestContext(app, principals.tenantAdmin(a.tenant.id)), DEFAULT_LOCATION);
    try {
      const seen = await em(ctx).query(`SELECT tenant_id, records::int AS n FROM personal_data_record_tally`);
      assert.deepEqual(
        seen.map((r: { tenant_id: string; n: number }) => [r.tenant_id, r.n]),
        [[a.tenant.id, 1]],
      );
      for (const write of [
        `UPDATE personal_data_record_tally SET records = 0`,
        `DELETE FROM personal_data_record_tally`,
        `INSERT INTO personal_data_record_tally (tenant_id, records) VALUES ('${a.tenant.id}', 5)`,
      ])
        await assert.rejects(
          ctx.session.transaction((m) => m.query(write)),
          /permission denied/,
          write,
        );
    } finally {
      await ctx.unit.close();
    }
    const operator = await onLocation(await requestContext(app, principals.operator()), DEFAULT_LOCATION);
    try {
      const seen = await em(operator).query(`SELECT tenant_id FROM personal_data_record_tally WHERE tenant_id = ANY ($1::uuid[])`, [
        [a.tenant.id, b.tenant.id],
      ]);
      assert.equal(seen.length, 2, "an operator sees every tenant's");
    } finally {
      await operator.unit.close();
    }
    assert.equal(await tally(b.tenant.id), 2, "unchanged");
  });

  it("refuses to move a record to another tenant (its tally would go wrong)", async () => {
    const a = await lifecycle.tenantWithRecords(1);
    const b = await lifecycle.tenantWithRecords(1);
    await assert.rejects(
      app.db.query(`UPDATE personal_data_record SET tenant_id = $1 WHERE id = $2`, [b.tenant.id, a.records[0].id]),
      /a record's tenant cannot change/,
    );
    assert.equal(await tally(a.tenant.id), 1);
  });
});
