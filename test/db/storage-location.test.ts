import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Role } from "../../src/shared/auth/role";
import { type TestApp, otherRoles, roles, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant } from "../helpers/factories";

const CREATE = `mutation($input: CreateStorageLocationInput!) { createStorageLocation(input: $input) { code name dataCenterCountries } }`;

describe("storage locations (rule 1)", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  before(async () => {
    app = await startTestApp();
    as = roles(app);
  });
  after(() => app.close());

  it("are seeded with EU, US, UK and APAC and their data-centre countries, readable by every role", async () => {
    const t = await createTenant(app);
    for (const caller of [as.asPartner(), as.asOperator(), as.asTenantAdmin(t.id), as.asAuditor(t.id)]) {
      const { storageLocations } = assertOk(await caller.gql(`{ storageLocations { code name dataCenterCountries } }`));
      const codes = storageLocations.map((l: { code: string }) => l.code);
      for (const code of ["EU", "US", "UK", "APAC"]) assert.ok(codes.includes(code), code);
      const eu = storageLocations.find((l: { code: string }) => l.code === "EU");
      assert.ok(eu.dataCenterCountries.includes("NL"));
    }
    assertError(await as.anonymous().gql(`{ storageLocations { code } }`), "UNAUTHENTICATED");
  });

  it("can be added by an operator, and a duplicate code is refused", async () => {
    const code = `CH${Date.now() % 100000}`;
    const data = assertOk(await as.asOperator().gql(CREATE, { input: { code, name: "Switzerland", dataCenterCountries: ["CH"] } }));
    assert.deepEqual(data.createStorageLocation, { code, name: "Switzerland", dataCenterCountries: ["CH"] });
    assertError(await as.asOperator().gql(CREATE, { input: { code, name: "Again", dataCenterCountries: ["CH"] } }), "BAD_USER_INPUT", "code");
  });

  it("gets a database of its own, which holds its tenants' rows; an instance started before finds it", async () => {
    const other = await startTestApp();
    try {
      const code = `NO${Date.now() % 100000}`;
      assertOk(await as.asOperator().gql(CREATE, { input: { code, name: "Norway", dataCenterCountries: ["NO"] } }));
      const [{ exists }] = await app.controlDb.query(`SELECT count(*)::int AS exists FROM pg_database WHERE datname = current_database() || '_' || lower($1)`, [
        code,
      ]);
      assert.equal(exists, 1, "created beside control, as <control>_<code>");
      const tenant = await createTenant(other, { storageLocationCode: code });
      assert.equal((await other.region(code).owner.query(`SELECT storage_location_code AS code FROM tenant WHERE id = $1`, [tenant.id]))[0].code, code);
      assert.deepEqual(await app.db.query(`SELECT id FROM tenant WHERE id = $1`, [tenant.id]), [], "not in EU's database");
    } finally {
      await other.close();
    }
  });

  it("refuses malformed input naming the field", async () => {
    assertError(await as.asOperator().gql(CREATE, { input: { code: "x", name: "Bad", dataCenterCountries: ["CH"] } }), "BAD_USER_INPUT", "code");
    assertError(await as.asOperator().gql(CREATE, { input: { code: "ZZ", name: "Bad", dataCenterCountries: [] } }), "BAD_USER_INPUT", "dataCenterCountries");
    assertError(
      await as.asOperator().gql(CREATE, { input: { code: "ZZ", name: "Bad", dataCenterCountries: ["Switzerland"] } }),
      "BAD_USER_INPUT",
      "dataCenterCountries",
    );
  });

  it("is added by operators only", async () => {
    const t = await createTenant(app);
    for (const p of otherRoles(t.id, [Role.OPERATOR])) {
      assertError(await app.as(p).gql(CREATE, { input: { code: "NO", name: "No", dataCenterCountries: ["NO"] } }), "FORBIDDEN");
    }
  });
});
