import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Role } from "../../src/shared/auth/role";
import { type TestApp, otherRoles, roles, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant } from "../helpers/factories";

const TENANT = `query($id: ID!) { tenant(id: $id) { id name subscriptionStatus storageLocation { code } retentionPolicy { deletionGraceDays auditLogRetentionDays } createdAt } }`;
const UPDATE = `mutation($id: ID!, $input: RetentionPolicyInput!) { updateRetentionPolicy(tenantId: $id, input: $input) { id retentionPolicy { deletionGraceDays auditLogRetentionDays } } }`;

describe("tenants", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  before(async () => {
    app = await startTestApp();
    as = roles(app);
  });
  after(() => app.close());

  describe("createTenant (rule 2: the storage location is chosen at creation)", () => {
    it("creates an ACTIVE tenant in the chosen location with the default policy", async () => {
      const data = assertOk(
        await as
          .asOperator()
          .gql(
            `mutation { createTenant(input: { name: "Acme", storageLocationCode: "UK" }) { id name subscriptionStatus storageLocation { code } retentionPolicy { deletionGraceDays auditLogRetentionDays } } }`,
          ),
      );
      assert.equal(data.createTenant.subscriptionStatus, "ACTIVE");
      assert.equal(data.createTenant.storageLocation.code, "UK");
      assert.deepEqual(data.createTenant.retentionPolicy, { deletionGraceDays: 30, auditLogRetentionDays: 365 });
    });

    it("refuses an unknown storage location with BAD_USER_INPUT naming the field, and writes nothing", async () => {
      const name = `Mars colony ${randomUUID()}`;
      const result = await as
        .asOperator()
        .gql(`mutation($name: String!) { createTenant(input: { name: $name, storageLocationCode: "MARS" }) { id } }`, { name });
      assertError(result, "BAD_USER_INPUT", "storageLocationCode");
      const [{ count }] = await app.db.query("SELECT count(*)::int AS count FROM tenant WHERE name = $1", [name]);
      assert.equal(count, 0);
    });

    it("refuses a blank name", async () => {
      assertError(await as.asOperator().gql(`mutation { createTenant(input: { name: "  ", storageLocationCode: "EU" }) { id } }`), "BAD_USER_INPUT", "name");
    });

    it("applies a chosen retention policy, refusing one outside the bounds", async () => {
      const t = await createTenant(app, { retentionPolicy: { deletionGraceDays: 7, auditLogRetentionDays: 90 } });
      const data = assertOk(await as.asOperator().gql(TENANT, { id: t.id }));
      assert.deepEqual(data.tenant.retentionPolicy, { deletionGraceDays: 7, auditLogRetentionDays: 90 });
      assertError(
        await as
          .asOperator()
          .gql(`mutation { createTenant(input: { name: "Too long", storageLocationCode: "EU", retentionPolicy: { deletionGraceDays: 31 } }) { id } }`),
        "BAD_USER_INPUT",
        "retentionPolicy.deletionGraceDays",
      );
    });

    it("is for operators only", async () => {
      const t = await createTenant(app);
      for (const p of otherRoles(t.id, [Role.OPERATOR])) {
        assertError(await app.as(p).gql(`mutation { createTenant(input: { name: "Nope", storageLocationCode: "EU" }) { id } }`), "FORBIDDEN");
      }
    });
  });

  describe("tenant(id) (tenant scoping)", () => {
    it("shows a tenant role its own tenant", async () => {
      const a = await createTenant(app);
      for (const caller of [as.asTenantAdmin(a.id), as.asIntegration(a.id), as.asAuditor(a.id), as.asSubject(a.id, randomUUID())]) {
        assert.equal(assertOk(await caller.gql(TENANT, { id: a.id })).tenant.id, a.id);
      }
    });

    it("answers null to a tenant role asking for another tenant, exactly as for a tenant that does not exist", async () => {
      const a = await createTenant(app);
      const b = await createTenant(app);
      const other = await as.asTenantAdmin(a.id).gql(TENANT, { id: b.id });
      const missing = await as.asTenantAdmin(a.id).gql(TENANT, { id: randomUUID() });
      assert.deepEqual(other, { data: { tenant: null } });
      assert.deepEqual(other, missing);
      assert.ok(!JSON.stringify(other).includes(b.name));
    });

    it("answers null for an id that is not a uuid", async () => {
      assert.deepEqual(await as.asOperator().gql(TENANT, { id: "not-a-uuid" }), { data: { tenant: null } });
    });

    it("shows operators every tenant and refuses partners", async () => {
      const b = await createTenant(app);
      assert.equal(assertOk(await as.asOperator().gql(TENANT, { id: b.id })).tenant.name, b.name);
      assertError(await as.asPartner().gql(TENANT, { id: b.id }), "FORBIDDEN");
    });
  });

  describe("updateRetentionPolicy (rules 6 and 8)", () => {
    it("accepts the bounds 1 and 30 / 1 and 365, refuses 0 and 31 / 0 and 366 naming the field", async () => {
      const t = await createTenant(app);
      const admin = as.asTenantAdmin(t.id);
      for (const ok of [{ deletionGraceDays: 1 }, { deletionGraceDays: 30 }, { auditLogRetentionDays: 1 }, { auditLogRetentionDays: 365 }]) {
        assertOk(await admin.gql(UPDATE, { id: t.id, input: ok }));
      }
      for (const [input, field] of [
        [{ deletionGraceDays: 0 }, "deletionGraceDays"],
        [{ deletionGraceDays: 31 }, "deletionGraceDays"],
        [{ auditLogRetentionDays: 0 }, "auditLogRetentionDays"],
        [{ auditLogRetentionDays: 366 }, "auditLogRetentionDays"],
      ] as const) {
        assertError(await admin.gql(UPDATE, { id: t.id, input }), "BAD_USER_INPUT", field);
      }
      const far = await admin.gql(UPDATE, { id: t.id, input: { auditLogRetentionDays: 98765 } });
      assertError(far, "BAD_USER_INPUT", "auditLogRetentionDays");
      assert.ok(!JSON.stringify(far).includes("98765"), "the rejected value is not echoed");
      const data = assertOk(await admin.gql(TENANT, { id: t.id }));
      assert.deepEqual(data.tenant.retentionPolicy, { deletionGraceDays: 30, auditLogRetentionDays: 365 });
    });

    it("keeps fields that are absent", async () => {
      const t = await createTenant(app, { retentionPolicy: { deletionGraceDays: 10, auditLogRetentionDays: 100 } });
      const data = assertOk(await as.asOperator().gql(UPDATE, { id: t.id, input: { auditLogRetentionDays: 200 } }));
      assert.deepEqual(data.updateRetentionPolicy.retentionPolicy, { deletionGraceDays: 10, auditLogRetentionDays: 200 });
    });

    it("answers NOT_FOUND to another tenant's admin and changes nothing", async () => {
      const a = await createTenant(app);
      const b = await createTenant(app);
      assertError(await as.asTenantAdmin(a.id).gql(UPDATE, { id: b.id, input: { deletionGraceDays: 2 } }), "NOT_FOUND");
      const data = assertOk(await as.asOperator().gql(TENANT, { id: b.id }));
      assert.equal(data.tenant.retentionPolicy.deletionGraceDays, 30);
    });

    it("is refused to the tenant's other roles", async () => {
      const t = await createTenant(app);
      for (const p of otherRoles(t.id, [Role.OPERATOR, Role.TENANT_ADMIN])) {
        assertError(await app.as(p).gql(UPDATE, { id: t.id, input: { deletionGraceDays: 2 } }), "FORBIDDEN");
      }
    });
  });

  describe("tenants (Relay connection)", () => {
    const PAGE = `query($first: Int, $after: String) { tenants(first: $first, after: $after) { totalCount edges { cursor node { id } } nodes { id } pageInfo { hasNextPage endCursor } } }`;

    it("pages through every tenant once, in a stable order, with a totalCount", async () => {
      for (let i = 0; i < 3; i++) await createTenant(app);
      const seen: string[] = [];
      let after: string | null = null;
      let total = -1;
      for (;;) {
        const page: any = assertOk(await as.asOperator().gql(PAGE, { first: 2, after })).tenants;
        total = page.totalCount;
        assert.deepEqual(
          page.nodes.map((n: { id: string }) => n.id),
          page.edges.map((e: { node: { id: string } }) => e.node.id),
        );
        seen.push(...page.nodes.map((n: { id: string }) => n.id));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      assert.equal(new Set(seen).size, seen.length, "no tenant twice");
      assert.equal(seen.length, total);
      const all = assertOk(await as.asOperator().gql(PAGE, { first: 500 })).tenants;
      assert.deepEqual(all.nodes.map((n: { id: string }) => n.id).slice(0, seen.length), seen);
    });

    it("accepts first 1 and 500, refuses 0 and 501 with BAD_USER_INPUT on `first`", async () => {
      assertOk(await as.asOperator().gql(PAGE, { first: 1 }));
      assertOk(await as.asOperator().gql(PAGE, { first: 500 }));
      assertError(await as.asOperator().gql(PAGE, { first: 0 }), "BAD_USER_INPUT", "first");
      assertError(await as.asOperator().gql(PAGE, { first: 501 }), "BAD_USER_INPUT", "first");
    });

    it("refuses a cursor it did not issue", async () => {
      assertError(await as.asOperator().gql(PAGE, { after: "garbage" }), "BAD_USER_INPUT", "after");
      const forged = Buffer.from(JSON.stringify(["2026-01-01T00:00:00.000Z", "x'; drop"])).toString("base64url");
      assertError(await as.asOperator().gql(PAGE, { after: forged }), "BAD_USER_INPUT", "after");
    });

    it("is for operators only", async () => {
      const t = await createTenant(app);
      for (const p of otherRoles(t.id, [Role.OPERATOR])) assertError(await app.as(p).gql(PAGE, {}), "FORBIDDEN");
    });
  });
});
