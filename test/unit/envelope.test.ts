import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  associatedData,
  blindIndex,
  IntegrityError,
  KEY_BYTES,
  LocalKeyProvider,
  newKey,
  open,
  parseMasterKey,
  seal,
  unwrapKey,
  wrapKey,
} from "../../src/modules/keys/envelope";

const CANARY = "ada.canary@contoso.example";
const AAD = associatedData("record", ["tenant-1", "subject-1", "record-1"], 1);

describe("envelope encryption (pure)", () => {
  it("opens what it sealed; the sealed bytes hold no trace of the plaintext (and the probe finds it where it is)", () => {
    const key = newKey();
    const sealed = seal(key, Buffer.from(CANARY), AAD);
    assert.equal(open(key, sealed, AAD).toString("utf8"), CANARY);
    const probe = (bytes: Buffer) => bytes.includes(Buffer.from(CANARY)) || bytes.toString("base64").includes(Buffer.from(CANARY).toString("base64"));
    assert.equal(probe(Buffer.concat([Buffer.from("prefix"), Buffer.from(CANARY)])), true, "the probe finds a plaintext");
    assert.equal(probe(sealed), false);
    assert.notDeepEqual(seal(key, Buffer.from(CANARY), AAD), sealed, "a fresh IV each time: equal values do not seal equal");
  });

  it("draws every key and IV fresh from blocks of random bytes: none repeats across blocks, and none changes once handed out", () => {
    // 20,000 draws span many 8 KiB blocks: a block reused or overwritten would repeat bytes.
    const keys = Array.from({ length: 5000 }, () => newKey());
    const ivs = Array.from({ length: 15000 }, () => seal(keys[0], Buffer.from("x"), AAD).subarray(1, 13).toString("hex"));
    assert.equal(new Set(keys.map((k) => k.toString("hex"))).size, keys.length);
    assert.equal(new Set(ivs).size, ivs.length);
    const before = Buffer.from(keys[0]);
    newKey();
    assert.deepEqual(keys[0], before, "a later draw does not change a key handed out");
  });

  it("refuses a ciphertext that was changed, moved to another row, opened with another key, cut short or of another format", () => {
    const key = newKey();
    const sealed = seal(key, Buffer.from(CANARY), AAD);
    const flipped = (at: number) => {
      const copy = Buffer.from(sealed);
      copy[at] ^= 1;
      return copy;
    };
    const refusals: Array<[string, () => Buffer]> = [
      ["a changed IV", () => open(key, flipped(1), AAD)],
      ["a changed tag", () => open(key, flipped(20), AAD)],
      ["a changed ciphertext", () => open(key, flipped(sealed.length - 1), AAD)],
      ["another row", () => open(key, sealed, associatedData("record", ["tenant-1", "subject-1", "record-2"], 1))],
      ["another key version", () => open(key, sealed, associatedData("record", ["tenant-1", "subject-1", "record-1"], 2))],
      ["another key", () => open(newKey(), sealed, AAD)],
      ["cut short", () => open(key, sealed.subarray(0, 20), AAD)],
      ["another format", () => open(key, flipped(0), AAD)],
    ];
    for (const [what, attempt] of refusals) assert.throws(attempt, IntegrityError, what);
  });

  it("wraps keys down the hierarchy: master, tenant, subject, record; a destroyed key leaves everything under it unreadable", async () => {
    const provider = new LocalKeyProvider(newKey());
    const tenantKey = newKey();
    const subjectKey = newKey();
    const recordKey = newKey();
    const wrappedTenant = await provider.wrap(tenantKey, associatedData("tenant-key", ["tenant-1"], 1));
    const wrappedSubject = wrapKey(tenantKey, subjectKey, associatedData("subject-key", ["tenant-1", "subject-1"], 1));
    const wrappedRecord = wrapKey(subjectKey, recordKey, associatedData("record-key", ["tenant-1", "subject-1", "record-1"], 1));
    const sealed = seal(recordKey, Buffer.from(CANARY), AAD);

    // Down the chain from the master key alone.
    const t = await provider.unwrap(wrappedTenant, associatedData("tenant-key", ["tenant-1"], 1));
    const s = unwrapKey(t, wrappedSubject, associatedData("subject-key", ["tenant-1", "subject-1"], 1));
    const r = unwrapKey(s, wrappedRecord, associatedData("record-key", ["tenant-1", "subject-1", "record-1"], 1));
    assert.equal(open(r, sealed, AAD).toString("utf8"), CANARY);

    // A subject key wrapped for one subject does not unwrap as another's.
    assert.throws(() => unwrapKey(t, wrappedSubject, associatedData("subject-key", ["tenant-1", "subject-2"], 1)), IntegrityError);
    // Another master key opens nothing.
    await assert.rejects(new LocalKeyProvider(newKey()).unwrap(wrappedTenant, associatedData("tenant-key", ["tenant-1"], 1)), IntegrityError);
  });

  it("a blind index is equal for equal inputs under one key, and differs under another key or for another input", () => {
    const key = newKey();
    assert.equal(blindIndex(key, "ext-42"), blindIndex(key, "ext-42"));
    assert.notEqual(blindIndex(key, "ext-42"), blindIndex(key, "ext-43"));
    assert.notEqual(blindIndex(newKey(), "ext-42"), blindIndex(key, "ext-42"));
    assert.ok(!blindIndex(key, CANARY).includes("canary"));
  });

  it("takes a master key of exactly 32 bytes in base64, and names no byte of a wrong one", () => {
    const good = newKey().toString("base64");
    assert.equal(parseMasterKey(good).length, KEY_BYTES);
    assert.equal(parseMasterKey(`${good}\n`).length, KEY_BYTES, "a trailing newline (a key file) is fine");
    for (const bad of ["", "c2hvcnQ=", Buffer.alloc(33).toString("base64"), "not base64 at all!!"]) {
      assert.throws(
        () => parseMasterKey(bad),
        (error: Error) => /32 bytes/.test(error.message) && (bad.length < 4 || !error.message.includes(bad)),
      );
    }
    assert.throws(() => seal(Buffer.alloc(16), Buffer.from("x"), AAD), /32 bytes/);
  });
});
