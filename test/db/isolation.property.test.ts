import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { Principal } from "../../src/shared/auth/principal";
import { type TestApp, principals, roles, startTestApp } from "../helpers/app";
import { assertOk } from "../helpers/assertions";
import { consentedAgreement, createTenant, recordData, registerSubject } from "../helpers/factories";
import { isolatedDatabase } from "../helpers/isolated-db";

const RUNS = Number(process.env.ISOLATION_RUNS ?? 1000);

/** Everything of a tenant's a caller could change, as the owner sees it, as one text. */
async function tenantFingerprint(app: TestApp, tenantId: string): Promise<string> {
  // The tenant's region (the default one) and its directory entry and notifications in control.
  const control = await app.controlDb.query(
    `SELECT (SELECT jsonb_agg(to_jsonb(t) ORDER BY id) FROM tenant t WHERE id = $1) AS directory,
            (SELECT jsonb_agg(to_jsonb(n) ORDER BY id) FROM breach_notification n WHERE tenant_id = $1) AS notifications`,
    [tenantId],
  );
  return JSON.stringify([
    control,
    await app.db.query(
      `SELECT (SELECT jsonb_agg(to_jsonb(t) ORDER BY id) FROM tenant t WHERE id = $1) AS tenant,
              (SELECT jsonb_agg(to_jsonb(s) ORDER BY id) FROM data_subject s WHERE tenant_id = $1) AS subjects,
              (SELECT jsonb_agg(to_jsonb(r) ORDER BY id) FROM personal_data_record r WHERE tenant_id = $1) AS records,
              (SELECT jsonb_agg(to_jsonb(a) ORDER BY id) FROM sharing_agreement a WHERE tenant_id = $1) AS agreements,
              (SELECT jsonb_agg(to_jsonb(n) ORDER BY id) FROM recipient_notice n WHERE tenant_id = $1) AS notices,
              (SELECT count(*) FROM data_transfer WHERE tenant_id = $1) AS transfers`,
      [tenantId],
    ),
  ]);
}

/**
 * Whatever a principal of tenant A asks about tenant B's objects, no answer
 * carries anything of B (its ids, names, values) and nothing of B changes.
 */
describe("tenant isolation, property-based", () => {
  let app: TestApp;
  let drop: () => Promise<void>;
  let b: Record<string, string>;
  let secrets: string[];
  let callers: Principal[];
  let fingerprint: () => Promise<string>;

  before(async () => {
    const db = await isolatedDatabase();
    drop = db.drop;
    app = await startTestApp({ databaseUrl: db.url });
    const as = roles(app);
    const marker = `B-SECRET-${randomUUID()}`;

    const tenantA = await createTenant(app, { name: `Tenant A ${randomUUID()}` });
    const subjectA = await registerSubject(app, tenantA.id);
    const recordA = await recordData(app, tenantA.id, subjectA.id);
    const tenantB = await createTenant(app, { name: `Tenant B ${marker}` });
    const subjectB = await registerSubject(app, tenantB.id, `ext-${marker}`);
    const recordB = await recordData(app, tenantB.id, subjectB.id, { value: { email: `${marker}@b.example` } });
    const { party, agreement: agreementB } = await consentedAgreement(app, tenantB.id, {
      partyName: `Vendor ${marker}`,
      feature: `Feature ${marker}`,
      tenantContractReference: `DPA ${marker}`,
    });
    const transferB = assertOk(
      await as.asIntegration(tenantB.id).gql(`mutation($input: ShareRecordsInput!) { shareRecords(input: $input) { id } }`, {
        input: { agreementId: agreementB.id, recordIds: [recordB.id], purpose: "SUPPORT" },
      }),
    ).shareRecords;
    const correctedB = await recordData(app, tenantB.id, subjectB.id, { value: { phone: `${marker}-phone` } });
    assertOk(
      await as.asIntegration(tenantB.id).gql(`mutation($input: ShareRecordsInput!) { shareRecords(input: $input) { id } }`, {
        input: { agreementId: agreementB.id, recordIds: [correctedB.id], purpose: "SUPPORT" },
      }),
    );
    assertOk(
      await as.asIntegration(tenantB.id).gql(`mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { id } }`, {
        input: { id: correctedB.id, expectedVersion: 1, value: { phone: `${marker}-new` } },
      }),
    );
    const [notice] = await app.db.query("SELECT id FROM recipient_notice WHERE agreement_id = $1", [agreementB.id]);
    const incident = assertOk(
      await as.asOperator().gql(`mutation($input: ReportSecurityIncidentInput!) { reportSecurityIncident(input: $input) { id } }`, {
        input: { title: "B only", description: "x", severity: "LOW", detectedAt: new Date(Date.now() - 1000).toISOString(), affectedTenantIds: [tenantB.id] },
      }),
    ).reportSecurityIncident;
    assertOk(await as.asOperator().gql(`mutation($id: ID!) { declareCustomerReportable(incidentId: $id) { id } }`, { id: incident.id }));
    const [notification] = await app.controlDb.query("SELECT id FROM breach_notification WHERE tenant_id = $1", [tenantB.id]);
    const [auditEntry] = await app.db.query("SELECT id FROM audit_log WHERE tenant_id = $1 LIMIT 1", [tenantB.id]);

    b = {
      tenant: tenantB.id,
      subject: subjectB.id,
      record: recordB.id,
      corrected: correctedB.id,
      agreement: agreementB.id,
      transfer: transferB.id,
      notice: notice.id,
      incident: incident.id,
      notification: notification.id,
      audit: auditEntry.id,
      party: party.id,
      recordA: recordA.id,
      subjectA: subjectA.id,
      tenantA: tenantA.id,
    };
    // Everything of B a response must never carry (the party is public reference data; A's ids are A's).
    secrets = [marker, tenantB.id, subjectB.id, recordB.id, correctedB.id, agreementB.id, transferB.id, notice.id, incident.id, notification.id, auditEntry.id];
    callers = [
      principals.tenantAdmin(tenantA.id),
      principals.integration(tenantA.id),
      principals.auditor(tenantA.id),
      principals.subject(tenantA.id, subjectA.id),
    ];
    fingerprint = () => tenantFingerprint(app, tenantB.id);
  });
  after(async () => {
    await app.close();
    await drop();
  });

  /** Operations against B's objects; `id` picks which of B's ids (or A's, for mixed ones) is passed. */
  const operations: Array<{ name: string; query: string; variables: (pick: (key: string) => string) => Record<string, unknown> }> = [
    {
      name: "tenant",
      query: `query($id: ID!) { tenant(id: $id) { id name dataSubjects { nodes { id externalId } } personalDataRecords { nodes { id } } sharingAgreements { nodes { id } } breachNotifications { id } auditLog { nodes { id details } } complianceReport { activeRecords } } }`,
      variables: (p) => ({ id: p("tenant") }),
    },
    { name: "tenants", query: `{ tenants(first: 500) { totalCount nodes { id name } } }`, variables: () => ({}) },
    {
      name: "dataSubject",
      query: `query($id: ID!) { dataSubject(id: $id) { id externalId displayName records { nodes { id value(purpose: SUBJECT_ACCESS) } } } }`,
      variables: (p) => ({ id: p("subject") }),
    },
    {
      name: "record value",
      query: `query($id: ID!, $purpose: ProcessingPurpose!) { personalDataRecord(id: $id) { id category value(purpose: $purpose) transfers { id } } }`,
      variables: (p) => ({ id: p("record"), purpose: "SUPPORT" }),
    },
    {
      name: "record as subject",
      query: `query($id: ID!) { personalDataRecord(id: $id) { id value(purpose: SUBJECT_ACCESS) } }`,
      variables: (p) => ({ id: p("record") }),
    },
    {
      name: "agreement",
      query: `query($id: ID!) { sharingAgreement(id: $id) { id feature tenantContractReference transfers { nodes { id recordIds } } openNotices { id recordId } } }`,
      variables: (p) => ({ id: p("agreement") }),
    },
    { name: "incident", query: `query($id: ID!) { breachIncident(id: $id) { id title notifications { id } } }`, variables: (p) => ({ id: p("incident") }) },
    { name: "incidents", query: `{ breachIncidents(first: 500) { totalCount nodes { id title } } }`, variables: () => ({}) },
    { name: "export", query: `query($id: ID!) { exportDataSubject(id: $id) { dataSubjectId document } }`, variables: (p) => ({ id: p("subject") }) },
    {
      name: "verify",
      query: `query($id: ID!) { verifyAuditLog(tenantId: $id) { valid entriesChecked firstInvalidEntryId } }`,
      variables: (p) => ({ id: p("tenant") }),
    },
    { name: "delete record", query: `mutation($id: ID!) { deletePersonalData(id: $id) { id } }`, variables: (p) => ({ id: p("record") }) },
    {
      name: "correct record",
      query: `mutation($id: ID!) { correctPersonalData(input: { id: $id, expectedVersion: 1, value: { x: 1 } }) { id } }`,
      variables: (p) => ({ id: p("record") }),
    },
    { name: "delete subject", query: `mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, variables: (p) => ({ id: p("subject") }) },
    {
      name: "record into B",
      query: `mutation($t: ID!, $s: ID!) { recordPersonalData(input: { tenantId: $t, dataSubjectId: $s, category: CONTACT, purposes: [SUPPORT], value: { x: 1 } }) { id } }`,
      variables: (p) => ({ t: p("tenant"), s: p("subject") }),
    },
    {
      name: "record for B's subject in A",
      query: `mutation($t: ID!, $s: ID!) { recordPersonalData(input: { tenantId: $t, dataSubjectId: $s, category: CONTACT, purposes: [SUPPORT], value: { x: 1 } }) { id } }`,
      variables: (p) => ({ t: b.tenantA, s: p("subject") }),
    },
    {
      name: "batch into B",
      query: `mutation($t: ID!, $s: ID!) { recordPersonalDataBatch(input: { tenantId: $t, records: [{ dataSubjectId: $s, category: CONTACT, purposes: [SUPPORT], value: { x: 1 } }] }) { count } }`,
      variables: (p) => ({ t: p("tenant"), s: p("subject") }),
    },
    {
      name: "register in B",
      query: `mutation($t: ID!) { registerDataSubject(input: { tenantId: $t, externalId: "intruder" }) { id } }`,
      variables: (p) => ({ t: p("tenant") }),
    },
    {
      name: "policy of B",
      query: `mutation($t: ID!) { updateRetentionPolicy(tenantId: $t, input: { deletionGraceDays: 1 }) { id } }`,
      variables: (p) => ({ t: p("tenant") }),
    },
    { name: "consent", query: `mutation($id: ID!) { grantSharingConsent(agreementId: $id) { id } }`, variables: (p) => ({ id: p("agreement") }) },
    { name: "revoke", query: `mutation($id: ID!) { revokeSharingConsent(agreementId: $id) { id } }`, variables: (p) => ({ id: p("agreement") }) },
    {
      name: "share B's records",
      query: `mutation($a: ID!, $r: ID!) { shareRecords(input: { agreementId: $a, recordIds: [$r], purpose: SUPPORT }) { id recordIds } }`,
      variables: (p) => ({ a: p("agreement"), r: p("record") }),
    },
    {
      name: "agreement in B",
      query: `mutation($t: ID!, $p: ID!) { createSharingAgreement(input: { tenantId: $t, thirdPartyId: $p, feature: "x", direction: OUTBOUND, dataCategories: [CONTACT], purposes: [SUPPORT] }) { id } }`,
      variables: (p) => ({ t: p("tenant"), p: b.party }),
    },
    {
      name: "acknowledge",
      query: `mutation($id: ID!) { acknowledgeBreachNotification(notificationId: $id) { id } }`,
      variables: (p) => ({ id: p("notification") }),
    },
    { name: "confirm notice", query: `mutation($id: ID!) { confirmRecipientNotice(noticeId: $id) { id recordId } }`, variables: (p) => ({ id: p("notice") }) },
  ];
  const idKeys = ["tenant", "subject", "record", "corrected", "agreement", "transfer", "notice", "incident", "notification", "audit"];

  it(`no response to ${RUNS} operations by tenant A's roles on tenant B's objects carries anything of B, and B is unchanged`, async () => {
    const before = await fingerprint();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...callers),
        fc.constantFrom(...operations),
        fc.constantFrom(...idKeys),
        fc.boolean(),
        fc.boolean(),
        async (caller, op, idKey, mismatched, upper) => {
          // The B object of the slot's own kind, or any other of B's ids; sometimes in upper case.
          const pick = (key: string) => {
            const id = mismatched ? b[idKey] : b[key];
            return upper ? id.toUpperCase() : id;
          };
          const result = await app.as(caller).gql(op.query, op.variables(pick));
          const text = JSON.stringify(result).toLowerCase();
          for (const secret of secrets) {
            assert.ok(
              !text.includes(secret.toLowerCase()),
              `${op.name} as ${caller.role} with ${idKey} returned something of B: ${JSON.stringify(result).slice(0, 300)}`,
            );
          }
          assert.ok(!text.includes("internal_server_error"), `${op.name}: ${JSON.stringify(result.errors)}`);
        },
      ),
      { numRuns: RUNS, seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined },
    );
    assert.equal(await fingerprint(), before, "nothing of B changed");
  });
});

/**
 * Within one tenant: a data subject sees only what concerns them (another subject's ids, values
 * and corrections never, even where a transfer or an agreement holds both), and an auditor sees
 * metadata but never a value, an external id or a display name; neither changes anything.
 */
describe("isolation within a tenant, property-based: another subject, and the auditor", () => {
  const runs = Math.max(1, Math.floor(RUNS / 2));
  let app: TestApp;
  let drop: () => Promise<void>;
  let ids: Record<string, string>;
  let marker: string;
  let me: Principal;
  let fingerprint: () => Promise<string>;

  before(async () => {
    const db = await isolatedDatabase();
    drop = db.drop;
    app = await startTestApp({ databaseUrl: db.url });
    const as = roles(app);
    marker = `PERSONAL-${randomUUID()}`;
    // The agreement's own business (not personal data: an auditor may read it, a subject not).
    const contract = `DPA-${randomUUID()}`;
    // My own value: mine to read, never the auditor's.
    const ownValue = `own-${randomUUID()}@a.example`;
    const tenant = await createTenant(app);
    const mine = await registerSubject(app, tenant.id);
    const other = assertOk(
      await as.asTenantAdmin(tenant.id).gql(`mutation($input: RegisterDataSubjectInput!) { registerDataSubject(input: $input) { id } }`, {
        input: { tenantId: tenant.id, externalId: `ext-${marker}`, displayName: `Name ${marker}` },
      }),
    ).registerDataSubject;
    const myRecord = await recordData(app, tenant.id, mine.id, { value: { email: ownValue } });
    const theirs = await recordData(app, tenant.id, other.id, { value: { email: `${marker}@a.example` } });
    const corrected = await recordData(app, tenant.id, other.id, { value: { phone: `${marker}-old` } });
    const { agreement } = await consentedAgreement(app, tenant.id, { tenantContractReference: contract });
    const share = `mutation($input: ShareRecordsInput!) { shareRecords(input: $input) { id } }`;
    // One transfer holds my record and theirs; another only theirs, then corrected (a notice).
    const both = assertOk(
      await as.asIntegration(tenant.id).gql(share, { input: { agreementId: agreement.id, recordIds: [myRecord.id, theirs.id], purpose: "SUPPORT" } }),
    ).shareRecords;
    assertOk(await as.asIntegration(tenant.id).gql(share, { input: { agreementId: agreement.id, recordIds: [corrected.id], purpose: "SUPPORT" } }));
    assertOk(
      await as.asIntegration(tenant.id).gql(`mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { id } }`, {
        input: { id: corrected.id, expectedVersion: 1, value: { phone: `${marker}-new` } },
      }),
    );
    const [notice] = await app.db.query("SELECT id FROM recipient_notice WHERE agreement_id = $1", [agreement.id]);
    ids = {
      contract,
      ownValue,
      tenant: tenant.id,
      mine: mine.id,
      other: other.id,
      myRecord: myRecord.id,
      theirs: theirs.id,
      corrected: corrected.id,
      agreement: agreement.id,
      transfer: both.id,
      notice: notice.id,
    };
    me = principals.subject(tenant.id, mine.id);
    fingerprint = () => tenantFingerprint(app, tenant.id);
  });
  after(async () => {
    await app.close();
    await drop();
  });

  const AGREEMENT = `id feature tenantContractReference consent { grantedBy } transfers { nodes { id recordIds } } openNotices { id recordId kind }`;
  const operations: Array<{ name: string; query: string; variables: (id: string) => Record<string, unknown> }> = [
    {
      name: "subject",
      query: `query($id: ID!) { dataSubject(id: $id) { id externalId displayName status records { nodes { id value(purpose: SUBJECT_ACCESS) } } } }`,
      variables: (id) => ({ id }),
    },
    {
      name: "record",
      query: `query($id: ID!) { personalDataRecord(id: $id) { id category value(purpose: SUBJECT_ACCESS) transfers { id recordIds agreement { ${AGREEMENT} } } } }`,
      variables: (id) => ({ id }),
    },
    {
      name: "record for support",
      query: `query($id: ID!) { personalDataRecord(id: $id) { id value(purpose: SUPPORT) subject { id externalId displayName } } }`,
      variables: (id) => ({ id }),
    },
    {
      name: "tenant",
      query: `query($id: ID!) { tenant(id: $id) { id dataSubjects { nodes { id externalId displayName } } personalDataRecords { nodes { id value(purpose: SUPPORT) } } sharingAgreements { nodes { ${AGREEMENT} } } auditLog { nodes { id targetId details } } } }`,
      variables: (id) => ({ id }),
    },
    { name: "agreement", query: `query($id: ID!) { sharingAgreement(id: $id) { ${AGREEMENT} } }`, variables: (id) => ({ id }) },
    { name: "export", query: `query($id: ID!) { exportDataSubject(id: $id) { document } }`, variables: (id) => ({ id }) },
    { name: "delete record", query: `mutation($id: ID!) { deletePersonalData(id: $id) { id } }`, variables: (id) => ({ id }) },
    {
      name: "correct record",
      query: `mutation($id: ID!) { correctPersonalData(input: { id: $id, expectedVersion: 1, value: { x: 1 } }) { id } }`,
      variables: (id) => ({ id }),
    },
    { name: "delete subject", query: `mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, variables: (id) => ({ id }) },
    { name: "confirm notice", query: `mutation($id: ID!) { confirmRecipientNotice(noticeId: $id) { id recordId } }`, variables: (id) => ({ id }) },
    {
      name: "share",
      query: `mutation($a: ID!) { shareRecords(input: { agreementId: $a, recordIds: [] , purpose: SUPPORT }) { id } }`,
      variables: (id) => ({ a: id }),
    },
  ];
  const keys = ["tenant", "mine", "other", "myRecord", "theirs", "corrected", "agreement", "transfer", "notice"];
  const leaks = (text: string, secrets: string[]) => secrets.filter((s) => text.toLowerCase().includes(s.toLowerCase()));

  // The auditor first: it changes nothing, and the subject below may delete its own data.
  it(`an auditor's ${runs} operations never carry a value, an external id or a display name, and change nothing`, async () => {
    const auditor = principals.auditor(ids.tenant);
    const before = await fingerprint();
    // Every personal-data marker: values of both subjects, the other's external id and name.
    const secrets = [marker, ids.ownValue];
    const seenByAdmin = JSON.stringify(await app.as(principals.tenantAdmin(ids.tenant)).gql(operations[3].query, { id: ids.tenant }));
    assert.deepEqual(leaks(seenByAdmin, secrets), secrets, `the probe: the administrator's answer holds them: ${seenByAdmin.slice(0, 600)}`);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...operations), fc.constantFrom(...keys), async (op, key) => {
        const result = await app.as(auditor).gql(op.query, op.variables(ids[key]));
        const text = JSON.stringify(result);
        assert.deepEqual(leaks(text, secrets), [], `${op.name} on ${key}: ${text.slice(0, 400)}`);
        assert.ok(!text.includes("INTERNAL_SERVER_ERROR"), `${op.name}: ${text.slice(0, 300)}`);
      }),
      { numRuns: runs, seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined },
    );
    assert.equal(await fingerprint(), before, "the auditor changed nothing");
  });

  it(`a data subject's ${runs} operations never carry another subject's ids, values or corrections, nor the agreement's own business, and change nothing of theirs`, async () => {
    const before = await fingerprint();
    // The other subject's ids and personal data, and what of the agreement concerns the tenant only.
    const secrets = [ids.other, ids.theirs, ids.corrected, ids.notice, ids.contract, marker];
    // The probe: the tenant's administrator, asking the same, finds them.
    const seenByAdmin = JSON.stringify(await app.as(principals.tenantAdmin(ids.tenant)).gql(operations[4].query, { id: ids.agreement }));
    assert.deepEqual(leaks(seenByAdmin, secrets).sort(), [ids.theirs, ids.corrected, ids.notice, ids.contract].sort());
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...operations), fc.constantFrom(...keys), async (op, key) => {
        const result = await app.as(me).gql(op.query, op.variables(ids[key]));
        const text = JSON.stringify(result);
        assert.deepEqual(leaks(text, secrets), [], `${op.name} on ${key}: ${text.slice(0, 400)}`);
        assert.ok(!text.includes("INTERNAL_SERVER_ERROR"), `${op.name}: ${text.slice(0, 300)}`);
      }),
      { numRuns: runs, seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined },
    );
    // Only what is mine may have changed (I may delete or correct my own record).
    // [control's rows, the region's rows]: the subjects, records and notices are the region's.
    const [, [after]] = JSON.parse(await fingerprint());
    const theirsOnly = (f: any) =>
      JSON.stringify([
        f.subjects.filter((s: any) => s.id === ids.other),
        f.records.filter((r: any) => r.data_subject_id === ids.other),
        f.notices.filter((n: any) => [ids.theirs, ids.corrected].includes(n.record_id)),
      ]);
    assert.equal(theirsOnly(after), theirsOnly(JSON.parse(before)[1][0]), "nothing of the other subject changed");
  });
});
