import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Role } from "../../src/shared/auth/role";
import { type TestApp, otherRoles, roles, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { RECORD, createAgreement, createTenant, recordData, registerParty, registerSubject } from "../helpers/factories";

const CREATE = `mutation($input: CreateSharingAgreementInput!) { createSharingAgreement(input: $input) { id status direction dataCategories purposes consent { grantedBy } } }`;
const GRANT = `mutation($id: ID!) { grantSharingConsent(agreementId: $id) { id status consent { grantedBy grantedAt dataCategories purposes revokedAt } } }`;
const REVOKE = `mutation($id: ID!, $reason: String) { revokeSharingConsent(agreementId: $id, reason: $reason) { id status revokedAt consent { revokedBy revokedAt revocationReason } } }`;
const SHARE = `mutation($input: ShareRecordsInput!) { shareRecords(input: $input) { id purpose recordIds recordCount categories transferredAt agreement { id } } }`;
const AGREEMENT = `query($id: ID!) { sharingAgreement(id: $id) { id status thirdParty { name } tenant { id }
  transfers { totalCount nodes { id recordIds } } openNotices { id recordId kind confirmedAt } } }`;
const CONFIRM = `mutation($id: ID!) { confirmRecipientNotice(noticeId: $id) { id confirmedAt confirmedBy } }`;

describe("third parties and sharing (rules 15-21)", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  const transfersOf = async (agreementId: string): Promise<number> =>
    (await app.db.query("SELECT count(*)::int AS n FROM data_transfer WHERE agreement_id = $1", [agreementId]))[0].n;
  const party = (role: "AGENT" | "INDEPENDENT", options: { listed?: boolean; prohibited?: boolean } = {}) => registerParty(app, role, options);
  /** A tenant with a subject and a DEVICE record collected for SUPPORT and SECURITY. */
  async function tenantWithRecord() {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const record = await recordData(app, tenant.id, subject.id, { category: "DEVICE", purposes: ["SUPPORT", "SECURITY"], value: { serial: "S-1" } });
    return { tenant, subject, record };
  }
  async function agreement(tenantId: string, thirdPartyId: string, extra: Record<string, unknown> = {}) {
    return assertOk(await createAgreement(app, tenantId, thirdPartyId, extra)).createSharingAgreement;
  }
  /** An ACTIVE OUTBOUND agreement with an INDEPENDENT party (consent granted). */
  async function consented(tenantId: string, extra: Record<string, unknown> = {}) {
    const p = await party("INDEPENDENT");
    const a = await agreement(tenantId, p.id, extra);
    assertOk(await as.asTenantAdmin(tenantId).gql(GRANT, { id: a.id }));
    return { party: p, agreement: a };
  }

  before(async () => {
    app = await startTestApp();
    as = roles(app);
  });
  after(() => app.close());

  describe("agreements (rules 15-17)", () => {
    it("start PENDING_CONSENT for INDEPENDENT parties, ACTIVE or SUSPENDED for agents by listing", async () => {
      const t = await createTenant(app);
      assert.equal((await agreement(t.id, (await party("INDEPENDENT")).id)).status, "PENDING_CONSENT");
      assert.equal((await agreement(t.id, (await party("AGENT", { listed: true })).id)).status, "ACTIVE");
      assert.equal((await agreement(t.id, (await party("AGENT")).id)).status, "SUSPENDED");
    });

    it("refuse sharing-prohibited parties and prohibited purposes", async () => {
      const t = await createTenant(app);
      const base = { tenantId: t.id, feature: "F", direction: "OUTBOUND", dataCategories: ["DEVICE"], purposes: ["SUPPORT"] };
      assertError(
        await as.asTenantAdmin(t.id).gql(CREATE, { input: { ...base, thirdPartyId: (await party("INDEPENDENT", { prohibited: true })).id } }),
        "SHARING_PROHIBITED",
      );
      const p = await party("INDEPENDENT");
      assertError(
        await as.asTenantAdmin(t.id).gql(CREATE, { input: { ...base, thirdPartyId: p.id, purposes: ["SUPPORT", "MARKETING"] } }),
        "PURPOSE_PROHIBITED",
      );
      assertError(await as.asTenantAdmin(t.id).gql(CREATE, { input: { ...base, thirdPartyId: p.id, purposes: ["PROFILING"] } }), "PURPOSE_PROHIBITED");
      assertError(await as.asTenantAdmin(t.id).gql(CREATE, { input: { ...base, thirdPartyId: p.id, dataCategories: [] } }), "BAD_USER_INPUT", "dataCategories");
      assertError(await as.asTenantAdmin(t.id).gql(CREATE, { input: { ...base, thirdPartyId: randomUUID() } }), "NOT_FOUND", "thirdPartyId");
    });

    it("are made by the tenant's administrator only", async () => {
      const t = await createTenant(app);
      const p = await party("INDEPENDENT");
      const input = { tenantId: t.id, thirdPartyId: p.id, feature: "F", direction: "OUTBOUND", dataCategories: ["DEVICE"], purposes: ["SUPPORT"] };
      for (const who of otherRoles(t.id, [Role.TENANT_ADMIN])) assertError(await app.as(who).gql(CREATE, { input }), "FORBIDDEN");
      assertError(await as.asTenantAdmin((await createTenant(app)).id).gql(CREATE, { input }), "NOT_FOUND");
    });
  });

  describe("consent (rule 17)", () => {
    it("is granted by the tenant's administrator, keeping who, when, categories and purposes", async () => {
      const t = await createTenant(app);
      const a = await agreement(t.id, (await party("INDEPENDENT")).id, { dataCategories: ["DEVICE", "NETWORK"], purposes: ["SUPPORT", "SECURITY"] });
      assertError(await as.asIntegration(t.id).gql(GRANT, { id: a.id }), "FORBIDDEN");
      assertError(await as.asOperator().gql(GRANT, { id: a.id }), "FORBIDDEN");
      assertError(await as.asTenantAdmin((await createTenant(app)).id).gql(GRANT, { id: a.id }), "NOT_FOUND");
      const granted = assertOk(await as.asTenantAdmin(t.id).gql(GRANT, { id: a.id })).grantSharingConsent;
      assert.equal(granted.status, "ACTIVE");
      assert.equal(granted.consent.grantedBy, "test-admin");
      assert.ok(granted.consent.grantedAt);
      assert.deepEqual(
        [granted.consent.dataCategories, granted.consent.purposes],
        [
          ["DEVICE", "NETWORK"],
          ["SUPPORT", "SECURITY"],
        ],
      );
      assertError(await as.asTenantAdmin(t.id).gql(GRANT, { id: (await agreement(t.id, (await party("AGENT", { listed: true })).id)).id }), "INVALID_STATE");
    });

    it("is revoked at once and for good", async () => {
      const { tenant, record } = await tenantWithRecord();
      const { agreement: a } = await consented(tenant.id);
      assertError(await as.asIntegration(tenant.id).gql(REVOKE, { id: a.id }), "FORBIDDEN");
      assertError(await as.asTenantAdmin((await createTenant(app)).id).gql(REVOKE, { id: a.id }), "NOT_FOUND");
      const revoked = assertOk(await as.asTenantAdmin(tenant.id).gql(REVOKE, { id: a.id, reason: "vendor changed" })).revokeSharingConsent;
      assert.equal(revoked.status, "REVOKED");
      assert.deepEqual([revoked.consent.revokedBy, revoked.consent.revocationReason], ["test-admin", "vendor changed"]);
      assertError(await as.asTenantAdmin(tenant.id).gql(GRANT, { id: a.id }), "CONSENT_REVOKED");
      assertError(
        await as.asIntegration(tenant.id).gql(SHARE, { input: { agreementId: a.id, recordIds: [record.id], purpose: "SUPPORT" } }),
        "CONSENT_REVOKED",
      );
    });
  });

  describe("shares (rule 18)", () => {
    it("shares every record or none, keeping ids, categories, purpose and time, never values", async () => {
      const { tenant, subject, record } = await tenantWithRecord();
      const second = await recordData(app, tenant.id, subject.id, { category: "DEVICE", purposes: ["SUPPORT"], value: { serial: "S-2" } });
      const { agreement: a } = await consented(tenant.id);
      const transfer = assertOk(
        await as.asIntegration(tenant.id).gql(SHARE, { input: { agreementId: a.id, recordIds: [record.id, second.id, record.id], purpose: "SUPPORT" } }),
      ).shareRecords;
      assert.deepEqual([transfer.purpose, transfer.recordCount, transfer.categories, transfer.agreement.id], ["SUPPORT", 2, ["DEVICE"], a.id]);
      assert.deepEqual(new Set(transfer.recordIds), new Set([record.id, second.id]));
      const [row] = await app.db.query("SELECT to_jsonb(t)::text AS t FROM data_transfer t WHERE id = $1", [transfer.id]);
      assert.doesNotMatch(row.t, /S-1|S-2/);
      const view = assertOk(await as.asAuditor(tenant.id).gql(AGREEMENT, { id: a.id })).sharingAgreement;
      assert.equal(view.transfers.totalCount, 1);
      const seen = assertOk(
        await as.asTenantAdmin(tenant.id).gql(`query($id: ID!) { personalDataRecord(id: $id) { transfers { id purpose } } }`, { id: record.id }),
      );
      assert.deepEqual(seen.personalDataRecord.transfers, [{ id: transfer.id, purpose: "SUPPORT" }]);
      // One record of another tenant: nothing is shared, and the refusal names it.
      const other = await tenantWithRecord();
      const refused = await as
        .asIntegration(tenant.id)
        .gql(SHARE, { input: { agreementId: a.id, recordIds: [record.id, other.record.id], purpose: "SUPPORT" } });
      assertError(refused, "NOT_FOUND", "recordIds");
      assert.equal(refused.errors![0].extensions.index, 1);
      assert.equal(await transfersOf(a.id), 1);
    });

    it("refuses each broken condition with its code", async () => {
      const { tenant, subject, record } = await tenantWithRecord();
      const share = (agreementId: string, recordIds: string[], purpose = "SUPPORT") =>
        as.asIntegration(tenant.id).gql(SHARE, { input: { agreementId, recordIds, purpose } });
      const pending = await agreement(tenant.id, (await party("INDEPENDENT")).id);
      assertError(await share(pending.id, [record.id]), "CONSENT_REQUIRED");
      const unlisted = await agreement(tenant.id, (await party("AGENT")).id);
      assertError(await share(unlisted.id, [record.id]), "SUBPROCESSOR_NOT_LISTED");
      const { agreement: a } = await consented(tenant.id, { purposes: ["SUPPORT", "SERVICE_MAINTENANCE"] });
      assertError(await share(a.id, [record.id], "MARKETING"), "PURPOSE_PROHIBITED");
      assertError(await share(a.id, [record.id], "SECURITY"), "PURPOSE_NOT_PERMITTED");
      assertError(await share(a.id, [record.id], "SERVICE_MAINTENANCE"), "PURPOSE_NOT_PERMITTED", "recordIds"); // not collected for it
      const contact = await recordData(app, tenant.id, subject.id, { category: "CONTACT", purposes: ["SUPPORT"] });
      assertError(await share(a.id, [contact.id]), "CATEGORY_NOT_COVERED", "recordIds");
      const gone = await recordData(app, tenant.id, subject.id, { category: "DEVICE", purposes: ["SUPPORT"] });
      assertOk(await as.asIntegration(tenant.id).gql(`mutation($id: ID!) { deletePersonalData(id: $id) { id } }`, { id: gone.id }));
      assertError(await share(a.id, [gone.id]), "RECORD_PENDING_DELETION", "recordIds");
      assertError(await share(a.id, []), "BAD_USER_INPUT", "recordIds");
      assertError(
        await share(
          a.id,
          Array.from({ length: 1001 }, () => randomUUID()),
        ),
        "BAD_USER_INPUT",
        "recordIds",
      );
      const inbound = await consented(tenant.id, { direction: "INBOUND" });
      assertError(await share(inbound.agreement.id, [record.id]), "BAD_USER_INPUT", "agreementId");
      assertError(await as.asAuditor(tenant.id).gql(SHARE, { input: { agreementId: a.id, recordIds: [record.id], purpose: "SUPPORT" } }), "FORBIDDEN");
      assertError(
        await as.asIntegration((await createTenant(app)).id).gql(SHARE, { input: { agreementId: a.id, recordIds: [record.id], purpose: "SUPPORT" } }),
        "NOT_FOUND",
      );
      assertOk(await as.asOperator().gql(`mutation($id: ID!) { endSubscription(tenantId: $id) { id } }`, { id: tenant.id }));
      assertError(await share(a.id, [record.id]), "SUBSCRIPTION_ENDED");
      assert.equal(await transfersOf(a.id), 0);
      const codes = (
        await app.db.query("SELECT error_code FROM audit_log WHERE tenant_id = $1 AND action = 'RECORDS_SHARED' AND outcome = 'DENIED'", [tenant.id])
      ).map((r: any) => r.error_code);
      assert.ok(codes.includes("CATEGORY_NOT_COVERED") && codes.includes("SUBSCRIPTION_ENDED"), "refusals are audited");
    });

    it("never commits a share after a revocation that races with it", async () => {
      for (let round = 0; round < 3; round++) {
        const { tenant, record } = await tenantWithRecord();
        const { agreement: a } = await consented(tenant.id);
        const shares = Array.from({ length: 12 }, (_, i) =>
          new Promise((ok) => setTimeout(ok, i)).then(() =>
            as.asIntegration(tenant.id).gql(SHARE, { input: { agreementId: a.id, recordIds: [record.id], purpose: "SUPPORT" } }),
          ),
        );
        const revoke = new Promise((ok) => setTimeout(ok, 5)).then(() => as.asTenantAdmin(tenant.id).gql(REVOKE, { id: a.id }));
        const [results, revoked] = await Promise.all([Promise.all(shares), revoke]);
        const revokedAt = new Date(assertOk(revoked).revokeSharingConsent.revokedAt);
        const ok = results.filter((r) => !r.errors);
        for (const r of results.filter((x) => x.errors)) assert.equal(r.errors![0].extensions.code, "CONSENT_REVOKED");
        const rows: Array<{ created_at: Date }> = await app.db.query("SELECT created_at FROM data_transfer WHERE agreement_id = $1", [a.id]);
        assert.equal(rows.length, ok.length, "every acknowledged share, and only those, is stored");
        for (const row of rows) assert.ok(row.created_at <= revokedAt, "no transfer after the revocation");
      }
    });
  });

  describe("inbound data (rule 19)", () => {
    it("needs an ACTIVE INBOUND agreement with the source covering the category; source resolves to the party", async () => {
      const { tenant, subject } = await tenantWithRecord();
      const p = await party("INDEPENDENT");
      const input = (category = "DEVICE") => ({
        tenantId: tenant.id,
        dataSubjectId: subject.id,
        category,
        purposes: ["SUPPORT"],
        value: { v: 1 },
        sourceThirdPartyId: p.id,
      });
      const record = (category?: string) => as.asIntegration(tenant.id).gql(RECORD, { input: input(category) });
      assertError(await record(), "CONSENT_REQUIRED", "sourceThirdPartyId");
      await agreement(tenant.id, p.id, { direction: "OUTBOUND" }); // the wrong direction does not count
      assertError(await record(), "CONSENT_REQUIRED");
      const inbound = await agreement(tenant.id, p.id, { direction: "INBOUND" });
      assertError(await record(), "CONSENT_REQUIRED");
      assertOk(await as.asTenantAdmin(tenant.id).gql(GRANT, { id: inbound.id }));
      assertError(await record("LOCATION"), "CATEGORY_NOT_COVERED");
      const created = assertOk(await record()).recordPersonalData;
      const source = assertOk(
        await as.asTenantAdmin(tenant.id).gql(`query($id: ID!) { personalDataRecord(id: $id) { source { id name } } }`, { id: created.id }),
      );
      assert.equal(source.personalDataRecord.source.id, p.id);
      const batch = await as
        .asIntegration(tenant.id)
        .gql(`mutation($input: RecordPersonalDataBatchInput!) { recordPersonalDataBatch(input: $input) { count } }`, {
          input: { tenantId: tenant.id, records: [input(), { ...input("LOCATION"), tenantId: undefined }].map(({ tenantId: _t, ...item }) => item) },
        });
      assertError(batch, "CATEGORY_NOT_COVERED", "records.1.sourceThirdPartyId");
      assert.equal(batch.errors![0].extensions.index, 1);
      assertOk(await as.asTenantAdmin(tenant.id).gql(REVOKE, { id: inbound.id }));
      assertError(await record(), "CONSENT_REVOKED");
    });
  });

  describe("notices to recipients (rule 21) and the export", () => {
    it("tells each recipient of a correction and a deletion until confirmed, and the export lists the transfers", async () => {
      const { tenant, subject, record } = await tenantWithRecord();
      const first = await consented(tenant.id);
      const second = await consented(tenant.id);
      for (const x of [first, second])
        assertOk(await as.asIntegration(tenant.id).gql(SHARE, { input: { agreementId: x.agreement.id, recordIds: [record.id], purpose: "SUPPORT" } }));
      assertOk(
        await as.asIntegration(tenant.id).gql(`mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { id } }`, {
          input: { id: record.id, expectedVersion: 1, value: { serial: "S-1b" } },
        }),
      );
      const exported = assertOk(
        await as.asSubject(tenant.id, subject.id).gql(`query($id: ID!) { exportDataSubject(id: $id) { document } }`, { id: subject.id }),
      ).exportDataSubject.document;
      assert.deepEqual(
        exported.transfers.map((t: any) => [t.thirdParty.id, t.agreement.id, t.purpose, t.categories, t.recordIds]).sort(),
        [first, second].map((x) => [x.party.id, x.agreement.id, "SUPPORT", ["DEVICE"], [record.id]]).sort(),
      );
      assertOk(await as.asIntegration(tenant.id).gql(`mutation($id: ID!) { deletePersonalData(id: $id) { id } }`, { id: record.id }));
      const notices = assertOk(await as.asTenantAdmin(tenant.id).gql(AGREEMENT, { id: first.agreement.id })).sharingAgreement.openNotices;
      assert.deepEqual(notices.map((n: any) => [n.recordId, n.kind]).sort(), [
        [record.id, "ERASURE"],
        [record.id, "RECTIFICATION"],
      ]);
      assertError(await as.asIntegration((await createTenant(app)).id).gql(CONFIRM, { id: notices[0].id }), "NOT_FOUND");
      assertError(await as.asAuditor(tenant.id).gql(CONFIRM, { id: notices[0].id }), "FORBIDDEN");
      const confirmed = assertOk(await as.asIntegration(tenant.id).gql(CONFIRM, { id: notices[0].id })).confirmRecipientNotice;
      assert.equal(confirmed.confirmedBy, "test-integration");
      assert.deepEqual(
        assertOk(await as.asIntegration(tenant.id).gql(CONFIRM, { id: notices[0].id })).confirmRecipientNotice,
        confirmed,
        "twice changes nothing",
      );
      assert.equal(assertOk(await as.asTenantAdmin(tenant.id).gql(AGREEMENT, { id: first.agreement.id })).sharingAgreement.openNotices.length, 1);
      assert.equal(assertOk(await as.asTenantAdmin(tenant.id).gql(AGREEMENT, { id: second.agreement.id })).sharingAgreement.openNotices.length, 2);
    });

    it("shows a data subject only its own records in a transfer, and none of the agreement's other business", async () => {
      const { tenant, subject, record } = await tenantWithRecord();
      const other = await registerSubject(app, tenant.id);
      const theirs = await recordData(app, tenant.id, other.id, { category: "DEVICE", purposes: ["SUPPORT"], value: { serial: "OTHER" } });
      const { agreement: a } = await consented(tenant.id);
      assertOk(await as.asIntegration(tenant.id).gql(SHARE, { input: { agreementId: a.id, recordIds: [record.id, theirs.id], purpose: "SUPPORT" } }));
      assertOk(
        await as.asIntegration(tenant.id).gql(`mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { id } }`, {
          input: { id: theirs.id, expectedVersion: 1, value: { serial: "OTHER-2" } },
        }),
      );

      const seen = await as
        .asSubject(tenant.id, subject.id)
        .gql(
          `query($id: ID!) { personalDataRecord(id: $id) { transfers { recordIds recordCount categories agreement { id purposes thirdParty { name } } } } }`,
          { id: record.id },
        );
      assert.deepEqual(assertOk(seen).personalDataRecord.transfers, [
        {
          recordIds: [record.id],
          recordCount: 1,
          categories: ["DEVICE"],
          agreement: { id: a.id, purposes: ["SUPPORT"], thirdParty: { name: (seen.data as any).personalDataRecord.transfers[0].agreement.thirdParty.name } },
        },
      ]);
      for (const field of ["transfers { nodes { recordIds } }", "openNotices { recordId kind }", "tenantContractReference", "consent { grantedBy }"]) {
        const probe = await as
          .asSubject(tenant.id, subject.id)
          .gql(`query($id: ID!) { personalDataRecord(id: $id) { transfers { agreement { ${field} } } } }`, { id: record.id });
        assert.equal(probe.errors?.[0].extensions.code, "FORBIDDEN", `${field}: ${JSON.stringify(probe)}`);
        assert.doesNotMatch(JSON.stringify(probe), new RegExp(theirs.id), field);
      }
      // The tenant's own roles still see the transfer whole (the probe finds the other record where it belongs).
      const whole = assertOk(
        await as
          .asTenantAdmin(tenant.id)
          .gql(`query($id: ID!) { personalDataRecord(id: $id) { transfers { recordIds agreement { openNotices { recordId } } } } }`, { id: record.id }),
      );
      assert.deepEqual(whole.personalDataRecord.transfers[0].recordIds.sort(), [record.id, theirs.id].sort());
      assert.deepEqual(
        whole.personalDataRecord.transfers[0].agreement.openNotices.map((n: any) => n.recordId),
        [theirs.id],
      );
    });

    it("counts agreements pending consent and suspended in the compliance report", async () => {
      const t = await createTenant(app);
      await agreement(t.id, (await party("INDEPENDENT")).id);
      await agreement(t.id, (await party("AGENT")).id);
      const report = assertOk(
        await as
          .asAuditor(t.id)
          .gql(`query($id: ID!) { tenant(id: $id) { complianceReport { agreementsPendingConsent suspendedAgreements } sharingAgreements { totalCount } } }`, {
            id: t.id,
          }),
      ).tenant;
      assert.deepEqual(report.complianceReport, { agreementsPendingConsent: 1, suspendedAgreements: 1 });
      assert.equal(report.sharingAgreements.totalCount, 2);
    });
  });
});
