import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GraphQLObjectType, GraphQLSchema, GraphQLString, type GraphQLResolveInfo } from "graphql";
import { createSchema } from "../../src/schema";
import { answerLeftValuesFirst, leaveFor } from "../../src/shared/read-path/lookahead";
import { principals, TEST_AUDIT_SIGNER } from "../helpers/app";

const infoAt = (key: string) => ({ path: { key, prev: undefined, typename: undefined } }) as unknown as GraphQLResolveInfo;

describe("left values (look-ahead)", () => {
  it("answers what a parent left under the field's response key, and asks the resolver otherwise", () => {
    let calls = 0;
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({ name: "Query", fields: { name: { type: GraphQLString, resolve: () => `resolved ${++calls}` } } }),
    });
    answerLeftValuesFirst(schema, [["Query", "name"]]);
    const resolve = schema.getQueryType()!.getFields().name.resolve!;
    const parent = {};
    leaveFor(parent, "alias", "left");
    assert.equal(resolve(parent, {}, {}, infoAt("alias")), "left");
    assert.equal(calls, 0);
    assert.equal(resolve(parent, {}, {}, infoAt("other")), "resolved 1");
    assert.equal(resolve({}, {}, {}, infoAt("alias")), "resolved 2");
  });

  it("refuses a field the schema does not have, so a renamed field cannot silently lose its fast path", () => {
    const schema = new GraphQLSchema({ query: new GraphQLObjectType({ name: "Query", fields: { name: { type: GraphQLString } } }) });
    assert.throws(() => answerLeftValuesFirst(schema, [["Query", "missing"]]), /Query\.missing is not in the schema/);
  });

  it("still authorizes a field whose value a parent left: the guard runs first", async () => {
    const schema = await createSchema({ auditSigner: TEST_AUDIT_SIGNER });
    const resolve = (schema.getType("Tenant") as GraphQLObjectType).getFields().personalDataRecords.resolve!;
    const page = { nodes: [], totalCount: 0 };
    const tenant = {};
    leaveFor(tenant, "personalDataRecords", page);
    const info = infoAt("personalDataRecords");
    assert.throws(
      () => resolve(tenant, {}, { principal: principals.subject("00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002") }, info),
      (error: Error & { extensions?: { code?: string } }) => error.extensions?.code === "FORBIDDEN",
    );
    assert.equal(resolve(tenant, {}, { principal: principals.operator() }, info), page);
  });
});
