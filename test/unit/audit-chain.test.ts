import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChainVerifier, GENESIS_HASH, type ChainHead, type ChainLink } from "../../src/modules/audit/audit-chain";

const h = (n: number) => n.toString(16).padStart(64, "0");
/** A well-formed chain of n links after the anchor. */
function chain(n: number, anchorSeq = 0, anchorHash = GENESIS_HASH): { head: ChainHead; links: ChainLink[] } {
  const links: ChainLink[] = [];
  let prev = anchorHash;
  for (let seq = anchorSeq + 1; seq <= anchorSeq + n; seq++) {
    links.push({ id: `e${seq}`, seq, prevHash: prev, hash: h(seq), recomputedHash: h(seq) });
    prev = h(seq);
  }
  return { head: { anchorSeq, anchorHash, lastSeq: anchorSeq + n, lastHash: prev }, links };
}

function verify(head: ChainHead, links: ChainLink[], pageSize = 2) {
  const v = new ChainVerifier(head);
  for (let i = 0; i < links.length && v.feed(links.slice(i, i + pageSize)); i += pageSize);
  return { problem: v.finish(), checked: v.checked };
}

describe("audit chain verification (rule 27, pure)", () => {
  it("accepts an intact chain, across pages, and an empty one", () => {
    const { head, links } = chain(5);
    assert.deepEqual(verify(head, links), { problem: null, checked: 5 });
    assert.deepEqual(verify(chain(0).head, []), { problem: null, checked: 0 });
  });

  it("names an edited entry", () => {
    const { head, links } = chain(5);
    links[2].recomputedHash = h(99);
    assert.equal(verify(head, links).problem?.entryId, "e3");
  });

  it("names the entry after a removed one", () => {
    const { head, links } = chain(5);
    links.splice(2, 1);
    assert.equal(verify(head, links).problem?.entryId, "e4");
  });

  it("names the first of two swapped entries", () => {
    const { head, links } = chain(5);
    [links[1], links[2]] = [links[2], links[1]];
    assert.equal(verify(head, links).problem?.entryId, "e3");
  });

  it("finds entries missing at the end, where no entry can be named", () => {
    const { head, links } = chain(5);
    const { problem } = verify(head, links.slice(0, 4));
    assert.equal(problem?.entryId, null);
    assert.match(problem!.reason, /newest entries are missing/);
  });

  it("starts at the anchor after a purge, and requires the newest purge entry to name that anchor", () => {
    const { head, links } = chain(3, 10, h(10));
    assert.match(verify(head, links).problem?.reason ?? "", /no retention purge left it/);
    links[1].purgeAnchor = { seq: 10, hash: h(10) };
    assert.equal(verify(head, links).problem, null);
    links[2].purgeAnchor = { seq: 9, hash: h(9) };
    assert.match(verify(head, links).problem?.reason ?? "", /no retention purge left it/);
  });
});
