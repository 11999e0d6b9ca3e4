import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newKey } from "../../src/modules/keys/envelope";
import { KeyCache } from "../../src/modules/keys/key-cache";

/** The slab's bytes, to show where a key's bytes are (and are not). */
const slabOf = (cache: KeyCache) => (cache as unknown as { slab: Buffer }).slab;

describe("the unwrapped-key cache (pure)", () => {
  it("gives back each key it holds, as a copy that a later eviction or a caller's change does not touch", () => {
    const cache = new KeyCache({ max: 3, ttlMs: 60_000 });
    const keys = Array.from({ length: 10 }, () => newKey());
    cache.set("k0", keys[0]);
    const held = cache.get("k0")!;
    assert.deepEqual(held, keys[0]);
    assert.equal(held.buffer.byteLength, held.length, "in memory of its own, not a slice of node's shared pool");
    held.fill(7);
    assert.deepEqual(cache.get("k0"), keys[0], "the caller's change stays the caller's");
    const copy = cache.get("k0")!;
    // Every slot is taken and reused many times over.
    for (let i = 1; i < 10; i++) cache.set(`k${i}`, keys[i]);
    assert.deepEqual(copy, keys[0], "a copy outlives its slot's reuse");
    for (let i = 7; i < 10; i++) assert.deepEqual(cache.get(`k${i}`), keys[i]);
  });

  it("holds at most `max` keys and evicts the least recently used", () => {
    const cache = new KeyCache({ max: 2, ttlMs: 60_000 });
    cache.set("a", newKey());
    cache.set("b", newKey());
    cache.get("a");
    cache.set("c", newKey());
    assert.equal(cache.size, 2);
    assert.ok(cache.get("a"), "read last, kept");
    assert.equal(cache.get("b"), undefined, "the least recently used went");
    assert.ok(cache.get("c"));
  });

  it("a key set again under its name replaces the old one without leaking its slot", () => {
    const cache = new KeyCache({ max: 2, ttlMs: 60_000 });
    for (let i = 0; i < 100; i++) cache.set("same", newKey());
    const last = newKey();
    cache.set("same", last);
    cache.set("other", newKey());
    assert.deepEqual(cache.get("same"), last);
    assert.equal(cache.size, 2);
  });

  it("forgets keys past their lifetime", () => {
    let now = 1_000;
    const cache = new KeyCache({ max: 10, ttlMs: 5_000, now: () => now });
    cache.set("a", newKey());
    now += 4_000;
    assert.ok(cache.get("a"));
    now += 2_000;
    assert.equal(cache.get("a"), undefined);
  });

  it("zeroes a key no one reads again once its lifetime has passed, without waiting for a read; one set again lives on", () => {
    let now = 1_000;
    const cache = new KeyCache({ max: 10, ttlMs: 5_000, now: () => now });
    const [unread, renewed] = [newKey(), newKey()];
    cache.set("unread", unread);
    cache.set("renewed", newKey());
    now += 4_000;
    cache.set("renewed", renewed);
    assert.ok(slabOf(cache).includes(unread), "the probe finds its bytes while it lives");
    // A lifetime and a window (a tenth of it) later: nothing read it.
    now += 2_600;
    cache.set("fresh", newKey());
    assert.equal(cache.size, 2, "the unread key is gone, not only hidden");
    assert.ok(!slabOf(cache).includes(unread), "and its bytes are zeroed");
    assert.deepEqual(cache.get("renewed"), renewed, "a key set again counts its lifetime from then");
  });

  it("deletes a burst of expired keys a batch at a time, each call going on with the rest", () => {
    let now = 1_000;
    const cache = new KeyCache({ max: 10_000, ttlMs: 5_000, now: () => now });
    for (let i = 0; i < 2_500; i++) cache.set(`k${i}`, newKey());
    now += 6_000;
    const sizes = [];
    for (let call = 0; call < 4; call++) {
      cache.get("nothing");
      sizes.push(cache.size);
    }
    assert.deepEqual(sizes, [1_500, 500, 0, 0], "1,000 a call: none holds the event loop for the whole burst");
  });

  it("zeroes a key's bytes when it leaves, by delete, eviction or clear (the probe finds them while it is held)", () => {
    const cache = new KeyCache({ max: 2, ttlMs: 60_000 });
    const [a, b, c] = [newKey(), newKey(), newKey()];
    cache.set("a", a);
    cache.set("b", b);
    assert.ok(slabOf(cache).includes(a) && slabOf(cache).includes(b), "held keys are in the slab");
    cache.delete("a");
    assert.equal(slabOf(cache).includes(a), false, "deleted");
    cache.set("c", c);
    cache.set("a", a);
    assert.equal(slabOf(cache).includes(b), false, "evicted");
    cache.clear();
    assert.equal(slabOf(cache).includes(a) || slabOf(cache).includes(c), false, "cleared");
    assert.equal(cache.size, 0);
  });

  it("takes only keys of the size it stores", () => {
    const cache = new KeyCache({ max: 2, ttlMs: 60_000 });
    assert.throws(() => cache.set("short", Buffer.alloc(16)));
    assert.equal(cache.size, 0);
  });

  it("keeps what a key opened only while the key is held: gone when it is deleted, evicted, expired, set anew or cleared", () => {
    let now = 1_000;
    const cache = new KeyCache({ max: 2, ttlMs: 5_000, attachedBytes: 10_000, now: () => now });
    cache.attach("r:absent:1", "absent", "opened", 10);
    assert.equal(cache.attachment("absent"), undefined, "nothing is kept for a key not held");
    // Found by the record's id, kept with the key of one of its versions.
    const hold = (record: string, version = 1) => {
      cache.set(`r:${record}:${version}`, newKey());
      cache.attach(`r:${record}:${version}`, record, `${record} v${version}`, 10);
      assert.equal(cache.attachment(record), `${record} v${version}`, "the probe: kept while its key is held");
    };
    hold("a");
    cache.delete("r:a:1");
    assert.equal(cache.attachment("a"), undefined, "deleted");
    hold("a");
    hold("b");
    hold("c");
    assert.equal(cache.attachment("a"), undefined, "evicted");
    hold("c");
    cache.set("r:c:1", newKey());
    assert.equal(cache.attachment("c"), undefined, "set anew: what the old key opened goes");
    hold("c");
    hold("c", 2);
    cache.delete("r:c:1");
    assert.equal(cache.attachment("c"), "c v2", "a newer version's replaces the older one's, and outlives its key");
    now += 4_000;
    hold("d");
    now += 1_500;
    assert.equal(cache.attachment("c"), undefined, "expired, before any sweep");
    assert.equal(cache.attachment("d"), "d v1", "a younger key's stays");
    cache.clear();
    assert.equal(cache.attachment("d"), undefined, "cleared");
  });

  it("keeps attachments within their bound, oldest first, and none larger than a hundredth of it; keys stay", () => {
    const cache = new KeyCache({ max: 10, ttlMs: 60_000, attachedBytes: 1_000 });
    for (const name of ["a", "b"]) cache.set(name, newKey());
    cache.attach("a", "a", "A", 10);
    assert.equal(cache.attachment("a"), "A", "the probe: one of a hundredth of the bound is kept");
    cache.attach("b", "b", "B", 11);
    assert.equal(cache.attachment("b"), undefined, "a larger one is not");
    const bounded = new KeyCache({ max: 200, ttlMs: 60_000, attachedBytes: 1_000 });
    for (let i = 0; i < 150; i++) {
      bounded.set(`k${i}`, newKey());
      bounded.attach(`k${i}`, `k${i}`, i, 10);
    }
    assert.equal(bounded.attachment("k49"), undefined, "the oldest went for room");
    assert.equal(bounded.attachment("k50"), 50);
    assert.equal(bounded.attachment("k149"), 149);
    assert.equal(bounded.size, 150, "every key stays");
    const none = new KeyCache({ max: 2, ttlMs: 60_000 });
    none.set("a", newKey());
    none.attach("a", "a", "A", 1);
    assert.equal(none.attachment("a"), undefined, "without a bound, nothing is kept");
  });

  it("forgets the order of attachments that left with their keys: a long run keeps it as short as what is held", () => {
    const cache = new KeyCache({ max: 100, ttlMs: 60_000, attachedBytes: 100_000 });
    for (let i = 0; i < 50_000; i++) {
      cache.set(`k${i}`, newKey());
      cache.attach(`k${i}`, `k${i}`, i, 10);
    }
    const order = (cache as unknown as { order: number[]; orderHead: number }).order;
    assert.ok(order.length < 2 * 5 * 100 + 2 * 1024 + 2, `${order.length} numbers for 100 attachments`);
    assert.equal(cache.attachment("k49999"), 49999);
    assert.equal(cache.attachment("k49899"), undefined, "evicted with its key");
  });
});
