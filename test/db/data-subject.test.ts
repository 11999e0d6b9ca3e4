import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type TestApp, roles, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant, recordData, registerSubject } from "../helpers/factories";

const RECORD_STATUS = `query($id: ID!) { personalDataRecord(id: $id) { id status } }`;
const CORRECT = `mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { id version updatedAt } }`;
const DELETE = `mutation($id: ID!) { deletePersonalData(id: $id) { id status } }`;
const EXPORT = `query($id: ID!, $onRequest: String) { exportDataSubject(id: $id, onRequest: $onRequest) { dataSubjectId generatedAt document } }`;

/** The people a tenant holds data about: registered once per tenant, each reaching only its own data. */
describe("data subjects", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  /** A tenant with one subject. */
  async function setup() {
    const tenant = await createTenant(app);
    return { tenant, subject: await registerSubject(app, tenant.id) };
  }

  before(async () => {
    app = await startTestApp();
    as = roles(app);
  });
  after(() => app.close());

  describe("data subjects themselves", () => {
    it("read, correct, delete and export only their own records; anything else is NOT_FOUND", async () => {
      const { tenant, subject } = await setup();
      const mine = await recordData(app, tenant.id, subject.id);
      const other = await registerSubject(app, tenant.id);
      const theirs = await recordData(app, tenant.id, other.id);
      const me = as.asSubject(tenant.id, subject.id);
      assert.equal(assertOk(await me.gql(`query($id: ID!) { dataSubject(id: $id) { id externalId } }`, { id: subject.id })).dataSubject.id, subject.id);
      assert.equal(assertOk(await me.gql(`query($id: ID!) { dataSubject(id: $id) { id } }`, { id: other.id })).dataSubject, null);
      assertOk(await me.gql(CORRECT, { input: { id: mine.id, expectedVersion: 1, value: { fixed: true } } }));
      assertError(await me.gql(CORRECT, { input: { id: theirs.id, expectedVersion: 1, value: {} } }), "NOT_FOUND");
      assertError(await me.gql(DELETE, { id: theirs.id }), "NOT_FOUND");
      assertError(await me.gql(EXPORT, { id: other.id }), "NOT_FOUND");
      assertOk(await me.gql(EXPORT, { id: subject.id }));
      assertOk(await me.gql(DELETE, { id: mine.id }));
      assert.equal(assertOk(await as.asTenantAdmin(tenant.id).gql(RECORD_STATUS, { id: theirs.id })).personalDataRecord.status, "ACTIVE");
    });

    it("are identified by personal data operators and auditors never see", async () => {
      const { tenant, subject } = await setup();
      const q = `query($id: ID!) { dataSubject(id: $id) { id status externalId } }`;
      assertError(await as.asOperator().gql(q, { id: subject.id }), "FORBIDDEN");
      assertError(await as.asAuditor(tenant.id).gql(q, { id: subject.id }), "FORBIDDEN");
      assert.equal(
        assertOk(await as.asAuditor(tenant.id).gql(`query($id: ID!) { dataSubject(id: $id) { id status } }`, { id: subject.id })).dataSubject.status,
        "ACTIVE",
      );
    });

    it("registers subjects with a unique externalId per tenant", async () => {
      const { tenant } = await setup();
      const reg = `mutation($input: RegisterDataSubjectInput!) { registerDataSubject(input: $input) { id status } }`;
      assertOk(await as.asIntegration(tenant.id).gql(reg, { input: { tenantId: tenant.id, externalId: "dup" } }));
      assertError(await as.asIntegration(tenant.id).gql(reg, { input: { tenantId: tenant.id, externalId: "dup" } }), "BAD_USER_INPUT", "externalId");
      assertError(await as.asIntegration(tenant.id).gql(reg, { input: { tenantId: tenant.id, externalId: " " } }), "BAD_USER_INPUT", "externalId");
      assertError(await as.asAuditor(tenant.id).gql(reg, { input: { tenantId: tenant.id, externalId: "x" } }), "FORBIDDEN");
    });
  });
});
