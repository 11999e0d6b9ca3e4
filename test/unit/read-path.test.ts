import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildSchema, graphql } from "graphql";
import { JoinRegistry } from "../../src/shared/read-path/joins";
import { leaveFor } from "../../src/shared/read-path/lookahead";

/** The read path's registry: one explicit list, checked against the schema at start. */
describe("read path registry", () => {
  const sdl = `type Query { parent: Parent } type Parent { children: [String] other: String }`;
  const none = () => null;

  it("refuses a field the schema does not have, so a rename cannot silently lose its join", () => {
    const registry = new JoinRegistry([{ parentType: "Parent", field: "kids", plan: none }]);
    assert.throws(() => registry.install(buildSchema(sdl)), /joins Parent\.kids, which the schema does not have/);
  });

  it("refuses a field declared twice", () => {
    assert.throws(
      () =>
        new JoinRegistry([
          { parentType: "Parent", field: "children", plan: none },
          { parentType: "Parent", field: "children", plan: none },
        ]),
      /declares Parent\.children twice/,
    );
  });

  it("makes the declared field answer what its parent left, and leaves other fields to their resolvers", async () => {
    const schema = buildSchema(sdl);
    const plan = () => null;
    const registry = new JoinRegistry([{ parentType: "Parent", field: "children", plan }]);
    registry.install(schema);
    assert.equal(registry.plannerOf("Parent", "children"), plan);
    assert.equal(registry.plannerOf("Parent", "other"), undefined);
    const parent = { children: ["own"], other: "own" };
    leaveFor(parent, "children", ["left"]);
    leaveFor(parent, "other", "left");
    const result = await graphql({ schema, source: "{ parent { children other } }", rootValue: { parent } });
    assert.deepEqual(JSON.parse(JSON.stringify(result.data)), { parent: { children: ["left"], other: "own" } });
  });
});
