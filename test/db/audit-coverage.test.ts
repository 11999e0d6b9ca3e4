import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type TestApp, roles, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { RECORD, createTenant, recordData, registerSubject } from "../helpers/factories";

const READ = `query($id: ID!, $purpose: ProcessingPurpose!) { personalDataRecord(id: $id) { id value(purpose: $purpose) } }`;
const CORRECT = `mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { id version } }`;
const BATCH = `mutation($input: RecordPersonalDataBatchInput!) { recordPersonalDataBatch(input: $input) { recordIds } }`;

describe("audit coverage: no values, ever (rule 26), and a chain that holds under concurrency (rule 27)", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;

  before(async () => {
    app = await startTestApp();
    as = roles(app);
  });
  after(() => app.close());

  it("runs every mutation and read on a record whose value holds a marker, and finds the marker in no audit entry, log line or error", async () => {
    const marker = `MARKER-${randomUUID()}`;
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const admin = as.asTenantAdmin(tenant.id);
    const integration = as.asIntegration(tenant.id);
    const me = as.asSubject(tenant.id, subject.id);
    const responses: unknown[] = [];
    const run = async (caller: ReturnType<typeof as.asOperator>, query: string, variables: Record<string, unknown>) => {
      const result = await caller.gql(query, variables);
      responses.push(result.errors ?? []);
      return result;
    };
    const input = {
      tenantId: tenant.id,
      dataSubjectId: subject.id,
      category: "CONTACT",
      purposes: ["SUPPORT"],
      value: { email: `${marker}@example.test` },
      idempotencyKey: "k1",
    };

    const { recordPersonalData: record } = assertOk(await run(integration, RECORD, { input }));
    assertOk(await run(integration, RECORD, { input })); // replay
    assertError(await run(integration, RECORD, { input: { ...input, value: { email: marker, other: 1 } } }), "IDEMPOTENCY_CONFLICT");
    assertError(await run(integration, RECORD, { input: { ...input, idempotencyKey: null, storageLocationCode: "US" } }), "RESIDENCY_VIOLATION");
    assertError(await run(integration, RECORD, { input: { ...input, idempotencyKey: null, purposes: ["PROFILING"] } }), "PURPOSE_PROHIBITED");
    assertError(await run(integration, RECORD, { input: { ...input, idempotencyKey: null, value: { big: marker.repeat(3000) } } }), "BAD_USER_INPUT");
    const item = { dataSubjectId: subject.id, category: "CONTACT", purposes: ["SUPPORT"], value: { note: marker } };
    assertOk(await run(integration, BATCH, { input: { tenantId: tenant.id, records: [item, item] } }));
    assertError(await run(integration, BATCH, { input: { tenantId: tenant.id, records: [item, { ...item, purposes: ["MARKETING"] }] } }), "PURPOSE_PROHIBITED");
    for (const purpose of ["SUPPORT", "SECURITY", "PROFILING", "SUBJECT_ACCESS"]) await run(admin, READ, { id: record.id, purpose });
    await run(me, READ, { id: record.id, purpose: "SUBJECT_ACCESS" });
    await run(as.asOperator(), READ, { id: record.id, purpose: "SUPPORT" });
    await run(admin, `query($id: ID!) { tenant(id: $id) { personalDataRecords(first: 10) { nodes { value(purpose: SUPPORT) } } } }`, { id: tenant.id });
    const party = assertOk(
      await run(as.asOperator(), `mutation { registerThirdParty(input: { name: "Marker party ${marker.slice(-8)}", role: INDEPENDENT }) { id } }`, {}),
    ).registerThirdParty;
    const agreement = assertOk(
      await run(admin, `mutation($input: CreateSharingAgreementInput!) { createSharingAgreement(input: $input) { id } }`, {
        input: { tenantId: tenant.id, thirdPartyId: party.id, feature: "Support", direction: "OUTBOUND", dataCategories: ["CONTACT"], purposes: ["SUPPORT"] },
      }),
    ).createSharingAgreement;
    assertOk(await run(admin, `mutation($id: ID!) { grantSharingConsent(agreementId: $id) { id } }`, { id: agreement.id }));
    const share = `mutation($input: ShareRecordsInput!) { shareRecords(input: $input) { id } }`;
    assertOk(await run(integration, share, { input: { agreementId: agreement.id, recordIds: [record.id], purpose: "SUPPORT" } }));
    assertError(await run(integration, share, { input: { agreementId: agreement.id, recordIds: [record.id], purpose: "MARKETING" } }), "PURPOSE_PROHIBITED");
    assertOk(await run(integration, CORRECT, { input: { id: record.id, expectedVersion: 1, value: { email: `${marker}-corrected` } } }));
    assertError(await run(integration, CORRECT, { input: { id: record.id, expectedVersion: 1, value: { email: `${marker}-stale` } } }), "VERSION_CONFLICT");
    assertOk(await run(me, `query($id: ID!) { exportDataSubject(id: $id) { dataSubjectId } }`, { id: subject.id }));
    assertOk(await run(me, `mutation($id: ID!) { deletePersonalData(id: $id) { id } }`, { id: record.id }));
    assertError(await run(admin, READ, { id: record.id, purpose: "SUPPORT" }), "RECORD_PENDING_DELETION");
    assertError(await run(integration, CORRECT, { input: { id: record.id, expectedVersion: 3, value: { email: marker } } }), "RECORD_PENDING_DELETION");
    assertOk(await run(admin, `mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, { id: subject.id }));
    const notices = assertOk(await run(admin, `query($id: ID!) { sharingAgreement(id: $id) { openNotices { id kind } } }`, { id: agreement.id }))
      .sharingAgreement.openNotices;
    assert.deepEqual(notices.map((n: any) => n.kind).sort(), ["ERASURE", "RECTIFICATION"]);
    for (const n of notices) assertOk(await run(integration, `mutation($id: ID!) { confirmRecipientNotice(noticeId: $id) { id } }`, { id: n.id }));
    const leaked: Array<{ n: number }> = await app.db.query(
      `SELECT (SELECT count(*) FROM data_transfer t WHERE to_jsonb(t)::text LIKE '%' || $1 || '%') + (SELECT count(*) FROM recipient_notice r WHERE to_jsonb(r)::text LIKE '%' || $1 || '%') AS n`,
      [marker],
    );
    assert.equal(Number(leaked[0].n), 0, "transfers and notices hold no value");

    const audited: Array<{ n: number; with_marker: number }> = await app.db.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE to_jsonb(a)::text LIKE '%' || $2 || '%')::int AS with_marker FROM audit_log a WHERE tenant_id = $1`,
      [tenant.id, marker],
    );
    assert.ok(audited[0].n >= 20, `${audited[0].n} entries were written`);
    assert.equal(audited[0].with_marker, 0, "no audit entry holds the value");
    assert.ok(!app.logs.some((line) => line.includes(marker)), "no log line holds the value");
    assert.doesNotMatch(JSON.stringify(responses), new RegExp(marker), "no error holds the value");
  });

  it("keeps one chain that verifies under 20 concurrent mutations of one tenant", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const records = await Promise.all([1, 2, 3, 4, 5].map(() => recordData(app, tenant.id, subject.id)));
    const integration = as.asIntegration(tenant.id);
    const mutations = Array.from({ length: 20 }, (_, i) => {
      const r = records[i % 5];
      if (i % 4 === 0) return integration.gql(`mutation($id: ID!) { deletePersonalData(id: $id) { id } }`, { id: r.id });
      if (i % 4 === 1) return integration.gql(CORRECT, { input: { id: r.id, expectedVersion: 1, value: { i } } });
      if (i % 4 === 2)
        return integration.gql(RECORD, { input: { tenantId: tenant.id, dataSubjectId: subject.id, category: "DEVICE", purposes: ["SUPPORT"], value: { i } } });
      return integration.gql(RECORD, { input: { tenantId: tenant.id, dataSubjectId: subject.id, category: "DEVICE", purposes: ["MARKETING"], value: { i } } });
    });
    await Promise.all(mutations);
    const before = 1 + 1 + 5; // tenant, subject, records
    const verification = assertOk(
      await as
        .asAuditor(tenant.id)
        .gql(`query($id: ID!) { verifyAuditLog(tenantId: $id, full: true) { valid entriesChecked firstInvalidEntryId } }`, { id: tenant.id }),
    );
    assert.deepEqual(verification.verifyAuditLog, { valid: true, entriesChecked: before + 20, firstInvalidEntryId: null });
  });
});
