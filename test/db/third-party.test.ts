import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Role } from "../../src/shared/auth/role";
import { type TestApp, otherRoles, roles, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createAgreement, createTenant, registerParty } from "../helpers/factories";

const REGISTER = `mutation($input: RegisterThirdPartyInput!) { registerThirdParty(input: $input) { id name role listedAsSubprocessor dataSharingProhibited country } }`;
const LISTING = `mutation($id: ID!, $listed: Boolean!) { setSubprocessorListing(thirdPartyId: $id, listed: $listed) { id listedAsSubprocessor } }`;
const REVOKE = `mutation($id: ID!) { revokeSharingConsent(agreementId: $id) { id status } }`;
const AGREEMENT = `query($id: ID!) { sharingAgreement(id: $id) { id status } }`;

/** The third-party registry and the subprocessor list (rules 15, 17, 20). */
describe("third parties", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  const party = (role: "AGENT" | "INDEPENDENT", options: { listed?: boolean } = {}) => registerParty(app, role, options);
  const agreement = async (tenantId: string, thirdPartyId: string) => assertOk(await createAgreement(app, tenantId, thirdPartyId)).createSharingAgreement;

  before(async () => {
    app = await startTestApp();
    as = roles(app);
  });
  after(() => app.close());

  describe("registry (rule 15)", () => {
    it("is written by operators and read by every role", async () => {
      const p = await party("AGENT");
      const t = await createTenant(app);
      for (const who of [as.asPartner(), as.asAuditor(t.id), as.asIntegration(t.id), as.asSubject(t.id, randomUUID())]) {
        const list = assertOk(await who.gql(`{ thirdParties(role: AGENT) { id role } subprocessorList { version } }`));
        assert.ok(list.thirdParties.some((x: any) => x.id === p.id));
      }
      for (const p2 of otherRoles(t.id, [Role.OPERATOR])) assertError(await app.as(p2).gql(REGISTER, { input: { name: "X", role: "AGENT" } }), "FORBIDDEN");
      assertError(await as.asOperator().gql(REGISTER, { input: { name: p.name, role: "AGENT" } }), "BAD_USER_INPUT", "name");
      assertError(await as.asOperator().gql(REGISTER, { input: { name: "Lower", role: "AGENT", country: "usa" } }), "BAD_USER_INPUT", "country");
    });
  });

  describe("subprocessor list (rules 17, 20)", () => {
    it("versions every listing change, keeps its history, and refuses INDEPENDENT parties", async () => {
      const agent = await party("AGENT");
      const before = assertOk(await as.asPartner().gql(`{ subprocessorList { version } }`)).subprocessorList.version;
      assertOk(await as.asOperator().gql(LISTING, { id: agent.id, listed: true }));
      assertOk(await as.asOperator().gql(LISTING, { id: agent.id, listed: true })); // no change, no new version
      assertOk(await as.asOperator().gql(LISTING, { id: agent.id, listed: false }));
      const after = assertOk(
        await as
          .asPartner()
          .gql(
            `query($v: Int) { subprocessorList { version entries { id } } subprocessorListHistory(sinceVersion: $v) { version listed thirdParty { id } } }`,
            { v: before },
          ),
      );
      const mine = after.subprocessorListHistory.filter((c: any) => c.thirdParty.id === agent.id);
      assert.deepEqual(
        mine.map((c: any) => c.listed),
        [true, false],
      );
      assert.ok(after.subprocessorList.version >= before + 2);
      assert.ok(!after.subprocessorList.entries.some((e: any) => e.id === agent.id));
      assertError(await as.asOperator().gql(LISTING, { id: (await party("INDEPENDENT")).id, listed: true }), "BAD_USER_INPUT", "thirdPartyId");
      assertError(await as.asTenantAdmin((await createTenant(app)).id).gql(LISTING, { id: agent.id, listed: true }), "FORBIDDEN");
    });

    it("suspends an agent's ACTIVE agreements when delisted and re-activates the SUSPENDED ones, never REVOKED ones", async () => {
      const agent = await party("AGENT", { listed: true });
      const t = await createTenant(app);
      const kept = await agreement(t.id, agent.id);
      const revoked = await agreement(t.id, agent.id);
      assert.equal(kept.status, "ACTIVE");
      assertOk(await as.asTenantAdmin(t.id).gql(REVOKE, { id: revoked.id }));
      assertOk(await as.asOperator().gql(LISTING, { id: agent.id, listed: false }));
      const status = async (id: string) => assertOk(await as.asTenantAdmin(t.id).gql(AGREEMENT, { id })).sharingAgreement.status;
      assert.deepEqual([await status(kept.id), await status(revoked.id)], ["SUSPENDED", "REVOKED"]);
      const [entry] = await app.db.query("SELECT action FROM audit_log WHERE tenant_id = $1 AND target_id = $2 AND action = 'AGREEMENT_SUSPENDED'", [
        t.id,
        kept.id,
      ]);
      assert.ok(entry, "the tenant's own log says its agreement was suspended");
      assertOk(await as.asOperator().gql(LISTING, { id: agent.id, listed: true }));
      assert.deepEqual([await status(kept.id), await status(revoked.id)], ["ACTIVE", "REVOKED"]);
    });
  });
});
