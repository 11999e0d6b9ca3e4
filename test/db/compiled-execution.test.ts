import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getIntrospectionQuery, graphql } from "graphql";
import { createSchema } from "../../src/schema";
import type { Principal } from "../../src/shared/auth/principal";
import { SettableClock } from "../../src/shared/clock";
import { type TestApp, roles, startTestApp, TEST_AUDIT_SIGNER, requestContext, testKeyRing } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant, recordData, registerSubject } from "../helpers/factories";

const plain = (value: unknown) => JSON.parse(JSON.stringify(value));

/**
 * Operations run compiled by graphql-jit (src/shared/graphql/compiled-execution.ts), not by
 * graphql-js. These pin the answers where the two could differ; the rest of the suite runs on it.
 */
describe("compiled execution", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;

  before(async () => {
    app = await startTestApp();
    as = roles(app);
  });
  after(() => app.close());

  it("answers introspection exactly as graphql-js executes it on the same schema", async () => {
    const reference = await graphql({
      schema: await createSchema({ testClock: new SettableClock(), auditSigner: TEST_AUDIT_SIGNER, keys: testKeyRing() }),
      source: getIntrospectionQuery({ descriptions: true }),
    });
    assert.equal(reference.errors, undefined);
    assert.deepEqual(assertOk(await as.asOperator().gql(getIntrospectionQuery({ descriptions: true }))), plain(reference.data));
  });

  it("runs the operation a document's operationName names, each compiled on its own", async () => {
    const document = `query Who { viewer { role } } query What { storageLocations { code } }`;
    const run = async (operationName: string) => {
      const contextValue = await requestContext(app, as.asOperator().principal as Principal);
      const response = await app.server.apollo.executeOperation({ query: document, operationName }, { contextValue });
      const body = response.body as { kind: "single"; singleResult: { data?: Record<string, unknown>; errors?: unknown } };
      assert.equal(body.singleResult.errors, undefined, JSON.stringify(body.singleResult.errors));
      return Object.keys(body.singleResult.data!);
    };
    // Twice each: the second run of each takes its compiled form from the cache.
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(await run("Who"), ["viewer"]);
      assert.deepEqual(await run("What"), ["storageLocations"]);
    }
  });

  it("reports a resolver's refusal with the contract's code, its path and location, and nulls up to the nearest nullable field", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const record = await recordData(app, tenant.id, subject.id, { purposes: ["SUPPORT"] });
    const result = await as.asTenantAdmin(tenant.id).gql(
      `query($id: ID!) {
        personalDataRecord(id: $id) { id
          value(purpose: MARKETING) } }`,
      { id: record.id },
    );
    assertError(result, "PURPOSE_PROHIBITED");
    const [error] = result.errors! as unknown as Array<{ path: unknown; locations: unknown }>;
    assert.deepEqual(error.path, ["personalDataRecord", "value"]);
    assert.deepEqual(error.locations, [{ line: 3, column: 11 }]);
    // value is non-null: the null goes up to the nearest nullable field, as the spec says.
    assert.deepEqual(result.data, { personalDataRecord: null });
  });

  it("refuses variables that do not fit their types with BAD_USER_INPUT, runs nothing and echoes no value", async () => {
    const result = await as.asOperator().gql(`query($first: Int) { tenants(first: $first) { totalCount } }`, { first: "secret-4711" });
    assertError(result, "BAD_USER_INPUT");
    assert.equal(result.data, undefined);
    assert.doesNotMatch(JSON.stringify(result), /secret-4711/);
  });
});
