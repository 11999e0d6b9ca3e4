import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { assertError, assertOk } from "../helpers/assertions";
import { consentedAgreement, createTenant, recordData, registerSubject } from "../helpers/factories";
import { at, END, lifecycleApp } from "../helpers/lifecycle";
import { principals, requestContext, type TestApp, type roles } from "../helpers/app";
import { DataSubjectEntity } from "../../src/modules/data-subject/data-subject.entity";
import { toDataSubject } from "../../src/modules/data-subject/data-subject.types";
import { SealedIdentities } from "../../src/modules/data-subject/sealed-identity";

const SHARE = `mutation($input: ShareRecordsInput!) { shareRecords(input: $input) { id } }`;
const CORRECT = `mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { id version } }`;
const DELETE_SUBJECT = `mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`;
const REVOKE = `mutation($id: ID!) { revokeSharingConsent(agreementId: $id) { id status } }`;

/** The transactional outbox (DOMAIN rule 28): what is emitted, when, and that it carries no personal data. */
describe("events", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  let lifecycle: Awaited<ReturnType<typeof lifecycleApp>>;
  const events = async (tenantId: string, type?: string): Promise<Array<{ id: string; type: string; data: Record<string, unknown> }>> =>
    app.db.query(`SELECT id, type, data FROM event WHERE tenant_id = $1 AND ($2::text IS NULL OR type = $2) ORDER BY occurred_at, id`, [
      tenantId,
      type ?? null,
    ]);

  before(async () => {
    lifecycle = await lifecycleApp();
    ({ app, as } = lifecycle);
  });
  beforeEach(() => app.clock.reset());
  after(() => lifecycle.close());

  it("ending a subscription emits subscription.ended once; the refused second attempt emits nothing", async () => {
    const { tenant } = await lifecycle.tenantWithRecords(2, 10);
    app.clock.set(at(1));
    assertOk(await as.asOperator().gql(END, { id: tenant.id }));
    assertError(await as.asOperator().gql(END, { id: tenant.id }), "INVALID_STATE");
    const ended = await events(tenant.id, "SUBSCRIPTION_ENDED");
    assert.equal(ended.length, 1);
    assert.deepEqual(ended[0].data, { tenantId: tenant.id, recordsPendingDeletion: 2, dataPurgeDueAt: at(11).toISOString() });
  });

  it("a retention run emits one data.purged per tenant with its counts; a crashed run's counts are sent by the next run", async () => {
    const { tenant, records } = await lifecycle.tenantWithRecords(3, 1);
    const DELETE = `mutation($id: ID!) { deletePersonalData(id: $id) { id } }`;
    for (const r of records) assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: r.id }));
    app.clock.set(at(2));
    await lifecycle.engine(2).run({ dryRun: false });
    const purged = await events(tenant.id, "DATA_PURGED");
    assert.deepEqual(
      purged.map((e) => e.data),
      [{ recordsPurged: 3, dataSubjectsPurged: 0, idempotencyKeysPurged: 0 }],
      "one event for two batches",
    );
    // A run that died after a batch committed left its tally: the next run sends it.
    await app.maintenance.query(`INSERT INTO purge_tally (tenant_id, records) VALUES ($1, 5)`, [tenant.id]);
    await lifecycle.engine().run({ dryRun: false });
    assert.deepEqual((await events(tenant.id, "DATA_PURGED")).length, 2);
    assert.deepEqual((await app.db.query(`SELECT count(*)::int AS n FROM purge_tally`))[0].n, 0);
  });

  it("no event carries a personal-data value, a name or an external id (and the probe finds them where they belong)", async () => {
    const canary = `canary-${randomUUID()}`;
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id, `${canary}-external`);
    const record = await recordData(app, tenant.id, subject.id, { value: { email: `${canary}@example.test` } });
    const { agreement } = await consentedAgreement(app, tenant.id, { tenantContractReference: `${canary}-contract` });
    assertOk(await as.asIntegration(tenant.id).gql(SHARE, { input: { agreementId: agreement.id, recordIds: [record.id], purpose: "SUPPORT" } }));
    assertOk(
      await as
        .asIntegration(tenant.id)
        .gql(CORRECT, { input: { id: record.id, expectedVersion: record.version, value: { email: `${canary}-new@example.test` } } }),
    );
    assertOk(await as.asTenantAdmin(tenant.id).gql(DELETE_SUBJECT, { id: subject.id }));
    assertOk(await as.asTenantAdmin(tenant.id).gql(REVOKE, { id: agreement.id }));
    const all = await events(tenant.id);
    assert.deepEqual([...new Set(all.map((e) => e.type))].sort(), ["RECIPIENT_NOTICE_OPENED", "SHARING_AGREEMENT_SUSPENDED"]);
    assert.equal(all.filter((e) => e.type === "RECIPIENT_NOTICE_OPENED").length, 2, "a rectification and an erasure");
    assert.doesNotMatch(JSON.stringify(all), new RegExp(canary));
    // The probe finds the canary where it belongs: the subject's own external id (it was deleted, so read from its seal here).
    const row = (await app.db.getRepository(DataSubjectEntity).findOneBy({ id: subject.id }))!;
    const identity = await new SealedIdentities(app.keys).open(await requestContext(app, principals.tenantAdmin(tenant.id)), toDataSubject(row).stored);
    assert.match(JSON.stringify(identity), new RegExp(canary), "the probe finds the canary in the subject's own identifiers");
  });
});
