import { randomUUID } from "node:crypto";
import assert from "node:assert/strict";
import type { TestApp } from "./app";
import { principals } from "./app";

/** A tenant of its own for each test, so tests never depend on each other's data. */
export async function createTenant(app: TestApp, input: { name?: string; storageLocationCode?: string; retentionPolicy?: Record<string, number> } = {}) {
  const result = await app
    .as(principals.operator())
    .gql<{ createTenant: { id: string; name: string } }>(`mutation($input: CreateTenantInput!) { createTenant(input: $input) { id name } }`, {
      input: {
        name: input.name ?? `Tenant ${randomUUID().slice(0, 8)}`,
        storageLocationCode: input.storageLocationCode ?? "EU",
        retentionPolicy: input.retentionPolicy,
      },
    });
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data!.createTenant;
}

/** A data subject of the tenant, registered by its administrator. */
export async function registerSubject(app: TestApp, tenantId: string, externalId = `ext-${randomUUID()}`) {
  const result = await app
    .as(principals.tenantAdmin(tenantId))
    .gql<{ registerDataSubject: { id: string } }>(`mutation($input: RegisterDataSubjectInput!) { registerDataSubject(input: $input) { id } }`, {
      input: { tenantId, externalId, displayName: "Test Person" },
    });
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data!.registerDataSubject;
}

export const RECORD = `mutation($input: RecordPersonalDataInput!) { recordPersonalData(input: $input) { id version status } }`;

/** A record of the subject, collected by an integration of the tenant. */
export async function recordData(
  app: TestApp,
  tenantId: string,
  dataSubjectId: string,
  input: { category?: string; purposes?: string[]; value?: Record<string, unknown> } = {},
) {
  const result = await app.as(principals.integration(tenantId)).gql<{ recordPersonalData: { id: string; version: number } }>(RECORD, {
    input: {
      tenantId,
      dataSubjectId,
      category: input.category ?? "CONTACT",
      purposes: input.purposes ?? ["SUPPORT"],
      value: input.value ?? { email: "person@example.test" },
    },
  });
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data!.recordPersonalData;
}

/**
 * An INDEPENDENT third party (named `partyName`, or at random) and an ACTIVE outbound agreement
 * of the tenant with it, for CONTACT data and SUPPORT, consented by the tenant's administrator.
 */
export async function consentedAgreement(
  app: TestApp,
  tenantId: string,
  input: { partyName?: string; feature?: string; tenantContractReference?: string } = {},
) {
  const party = await app
    .as(principals.operator())
    .gql<{ registerThirdParty: { id: string } }>(`mutation($name: String!) { registerThirdParty(input: { name: $name, role: INDEPENDENT }) { id } }`, {
      name: input.partyName ?? `Vendor ${randomUUID()}`,
    });
  assert.equal(party.errors, undefined, JSON.stringify(party.errors));
  const admin = app.as(principals.tenantAdmin(tenantId));
  const created = await admin.gql<{ createSharingAgreement: { id: string } }>(
    `mutation($input: CreateSharingAgreementInput!) { createSharingAgreement(input: $input) { id } }`,
    {
      input: {
        tenantId,
        thirdPartyId: party.data!.registerThirdParty.id,
        feature: input.feature ?? "Support",
        direction: "OUTBOUND",
        dataCategories: ["CONTACT"],
        purposes: ["SUPPORT"],
        ...(input.tenantContractReference ? { tenantContractReference: input.tenantContractReference } : {}),
      },
    },
  );
  assert.equal(created.errors, undefined, JSON.stringify(created.errors));
  const agreement = created.data!.createSharingAgreement;
  const consent = await admin.gql(`mutation($id: ID!) { grantSharingConsent(agreementId: $id) { id } }`, { id: agreement.id });
  assert.equal(consent.errors, undefined, JSON.stringify(consent.errors));
  return { party: party.data!.registerThirdParty, agreement };
}

/** A registered third party (by an operator), listed as a subprocessor when `listed`. */
export async function registerParty(app: TestApp, role: "AGENT" | "INDEPENDENT", options: { listed?: boolean; prohibited?: boolean } = {}) {
  const operator = app.as(principals.operator());
  const created = await operator.gql<{ registerThirdParty: { id: string; name: string } }>(
    `mutation($input: RegisterThirdPartyInput!) { registerThirdParty(input: $input) { id name } }`,
    { input: { name: `Party ${randomUUID()}`, role, country: "US", dataSharingProhibited: options.prohibited ?? false } },
  );
  assert.equal(created.errors, undefined, JSON.stringify(created.errors));
  const party = created.data!.registerThirdParty;
  if (options.listed) {
    const listed = await operator.gql(`mutation($id: ID!) { setSubprocessorListing(thirdPartyId: $id, listed: true) { id } }`, { id: party.id });
    assert.equal(listed.errors, undefined, JSON.stringify(listed.errors));
  }
  return party;
}

/** An OUTBOUND agreement of the tenant with the party for DEVICE data and SUPPORT (`extra` overrides), made by its administrator. */
export async function createAgreement(app: TestApp, tenantId: string, thirdPartyId: string, extra: Record<string, unknown> = {}) {
  const input = {
    tenantId,
    thirdPartyId,
    feature: "Device enrolment",
    direction: "OUTBOUND",
    dataCategories: ["DEVICE"],
    purposes: ["SUPPORT"],
    tenantContractReference: "DPA-1",
    ...extra,
  };
  const created = await app
    .as(principals.tenantAdmin(tenantId))
    .gql<{ createSharingAgreement: { id: string; status: string } }>(
      `mutation($input: CreateSharingAgreementInput!) { createSharingAgreement(input: $input) { id status direction dataCategories purposes consent { grantedBy } } }`,
      { input },
    );
  return created;
}

/** A LOW incident affecting `tenantIds`, reported by an operator a second before the service clock's now and declared customer-reportable (the tenants are notified). */
export async function declaredIncident(app: TestApp, tenantIds: string[]): Promise<{ id: string }> {
  const operator = app.as(principals.operator());
  const reported = await operator.gql<{ reportSecurityIncident: { id: string } }>(
    `mutation($input: ReportSecurityIncidentInput!) { reportSecurityIncident(input: $input) { id } }`,
    {
      input: {
        title: "Drill",
        description: "x",
        severity: "LOW",
        detectedAt: new Date(app.clock.now().getTime() - 1000).toISOString(),
        affectedTenantIds: tenantIds,
      },
    },
  );
  assert.equal(reported.errors, undefined, JSON.stringify(reported.errors));
  const incident = reported.data!.reportSecurityIncident;
  const declared = await operator.gql(`mutation($id: ID!) { declareCustomerReportable(incidentId: $id) { id } }`, { id: incident.id });
  assert.equal(declared.errors, undefined, JSON.stringify(declared.errors));
  return incident;
}
