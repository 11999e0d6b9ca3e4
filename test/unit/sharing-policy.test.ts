import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DataCategory as C, RecordStatus } from "../../src/modules/personal-data/personal-data.enums";
import { ProcessingPurpose as P } from "../../src/modules/purpose/processing-purpose";
import { inboundRefusal, initialStatus, shareRefusal, sharingReach, type AgreementFacts, type PartyFacts } from "../../src/modules/sharing/sharing-policy";
import { Role } from "../../src/shared/auth/role";
import { SharingAgreementStatus as S, SharingDirection as D } from "../../src/modules/sharing/sharing.types";
import { ThirdPartyRole } from "../../src/modules/third-party/third-party.types";

const independent: PartyFacts = { role: ThirdPartyRole.INDEPENDENT, listedAsSubprocessor: false, dataSharingProhibited: false };
const agent = (listed: boolean): PartyFacts => ({ role: ThirdPartyRole.AGENT, listedAsSubprocessor: listed, dataSharingProhibited: false });
const active: AgreementFacts = {
  status: S.ACTIVE,
  direction: D.OUTBOUND,
  dataCategories: [C.DEVICE],
  purposes: [P.SUPPORT],
  consentCategories: [C.DEVICE],
  consentPurposes: [P.SUPPORT],
};
const record = { status: RecordStatus.ACTIVE, category: C.DEVICE, purposes: [P.SUPPORT] };
const share = (a: AgreementFacts, party: PartyFacts, records = [record], purpose = P.SUPPORT, subscriptionActive = true) =>
  shareRefusal({ purpose, subscriptionActive }, a, party, records)?.code ?? null;

describe("sharing policy (rules 15-19, pure)", () => {
  it("starts agreements by party: consent for INDEPENDENT, listing for agents, never for prohibited parties", () => {
    assert.equal(initialStatus(independent), S.PENDING_CONSENT);
    assert.equal(initialStatus(agent(true)), S.ACTIVE);
    assert.equal(initialStatus(agent(false)), S.SUSPENDED);
    assert.equal(initialStatus({ ...independent, dataSharingProhibited: true }), null);
  });

  it("shares only when every condition of rule 18 holds, naming the first that fails", () => {
    assert.equal(share(active, independent), null);
    assert.equal(share(active, independent, [record], P.PROFILING), "PURPOSE_PROHIBITED");
    assert.equal(share(active, independent, [record], P.SUPPORT, false), "SUBSCRIPTION_ENDED");
    assert.equal(share({ ...active, status: S.PENDING_CONSENT }, independent), "CONSENT_REQUIRED");
    assert.equal(share({ ...active, status: S.REVOKED }, independent), "CONSENT_REVOKED");
    assert.equal(share(active, agent(false)), "SUBPROCESSOR_NOT_LISTED");
    assert.equal(share({ ...active, status: S.SUSPENDED }, agent(true)), "SUBPROCESSOR_NOT_LISTED");
    assert.equal(share(active, { ...independent, dataSharingProhibited: true }), "SHARING_PROHIBITED");
    assert.equal(share({ ...active, direction: D.INBOUND }, independent), "BAD_USER_INPUT");
    assert.equal(share(active, independent, [record], P.SECURITY), "PURPOSE_NOT_PERMITTED");
    assert.equal(share(active, independent, [{ ...record, status: null as unknown as RecordStatus }]), "NOT_FOUND");
    assert.equal(share(active, independent, [{ ...record, status: RecordStatus.PENDING_DELETION }]), "RECORD_PENDING_DELETION");
    assert.equal(share(active, independent, [{ ...record, category: C.CONTACT }]), "CATEGORY_NOT_COVERED");
    assert.equal(share(active, independent, [{ ...record, purposes: [P.SECURITY] }]), "PURPOSE_NOT_PERMITTED");
    assert.equal(shareRefusal({ purpose: P.SUPPORT, subscriptionActive: true }, active, independent, [record, { ...record, category: C.LOCATION }])?.index, 1);
  });

  it("narrows an agreement to what was consented to", () => {
    const wider = {
      ...active,
      dataCategories: [C.DEVICE, C.NETWORK],
      purposes: [P.SUPPORT, P.SECURITY],
      consentCategories: [C.DEVICE],
      consentPurposes: [P.SUPPORT],
    };
    assert.equal(share(wider, independent, [{ ...record, category: C.NETWORK }]), "CATEGORY_NOT_COVERED");
    assert.equal(share(wider, independent, [{ ...record, purposes: [P.SECURITY] }], P.SECURITY), "PURPOSE_NOT_PERMITTED");
  });

  it("accepts inbound data only under an ACTIVE INBOUND agreement covering the category", () => {
    const inbound = { ...active, direction: D.INBOUND };
    assert.equal(inboundRefusal([inbound], independent, C.DEVICE), null);
    assert.equal(inboundRefusal([inbound], independent, C.LOCATION)?.code, "CATEGORY_NOT_COVERED");
    assert.equal(inboundRefusal([], independent, C.DEVICE)?.code, "CONSENT_REQUIRED");
    assert.equal(inboundRefusal([{ ...inbound, status: S.PENDING_CONSENT }], independent, C.DEVICE)?.code, "CONSENT_REQUIRED");
    assert.equal(inboundRefusal([{ ...inbound, status: S.REVOKED }], independent, C.DEVICE)?.code, "CONSENT_REVOKED");
    assert.equal(inboundRefusal([{ ...inbound, consentCategories: null }], agent(false), C.DEVICE)?.code, "SUBPROCESSOR_NOT_LISTED");
  });
});

describe("who reaches agreements, transfers and notices (node, nodes)", () => {
  it("agreement viewers within their scope, a data subject through its own records, a partner not at all", () => {
    assert.deepEqual(
      Object.values(Role).map((role) => [role, sharingReach(role)]),
      [
        [Role.OPERATOR, "scope"],
        [Role.TENANT_ADMIN, "scope"],
        [Role.INTEGRATION, "scope"],
        [Role.DATA_SUBJECT, "own-records"],
        [Role.AUDITOR, "scope"],
        [Role.PARTNER, "none"],
      ],
    );
  });
});
