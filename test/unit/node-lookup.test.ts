import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { findNodes, inAskedOrder, lookupIds, type NodeSource } from "../../src/modules/node/node-lookup";

describe("node lookup", () => {
  const a = randomUUID();
  const b = randomUUID();

  it("looks up each distinct uuid once, lower-cased; anything else names nothing", () => {
    assert.deepEqual(lookupIds([a, a.toUpperCase(), "nope", "", b, `${a} `]), [a, b]);
  });

  it("answers in the order asked, repeats and case included, null where nothing was found", () => {
    const found = [
      { id: b, n: 2 },
      { id: a, n: 1 },
    ];
    assert.deepEqual(
      inAskedOrder([a, "x", randomUUID(), b.toUpperCase(), a], found).map((o) => o?.n ?? null),
      [1, null, null, 2, 1],
    );
  });

  it("asks every source for the wanted ids only, and none when no id can name an object", async () => {
    const asked: string[][] = [];
    const source =
      (objects: Array<{ id: string }>): NodeSource<null> =>
      async (_ctx, ids) => {
        asked.push([...ids]);
        return objects.filter((o) => ids.includes(o.id));
      };
    const answer = await findNodes(null, [source([{ id: a }]), source([{ id: b }])], [b, "bad", a, b]);
    assert.deepEqual(
      answer.map((o) => o?.id ?? null),
      [b, null, a, b],
    );
    assert.deepEqual(asked, [
      [b, a],
      [b, a],
    ]);
    asked.length = 0;
    assert.deepEqual(await findNodes(null, [source([])], ["bad", "worse"]), [null, null]);
    assert.deepEqual(asked, []);
  });
});
