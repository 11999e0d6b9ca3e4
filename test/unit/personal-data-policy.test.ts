import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Principal } from "../../src/shared/auth/principal";
import { Role } from "../../src/shared/auth/role";
import { BadUserInputError } from "../../src/shared/errors";
import { atBatchIndex, checkRecordDraft, checkResidency, checkValue, MAX_VALUE_BYTES } from "../../src/modules/personal-data/collection-policy";
import { isActivelyDeletable } from "../../src/modules/personal-data/deletion-policy";
import { activeDeletion } from "../../src/modules/tenant/deletion-plan";
import { canonicalJson, requestHash, sameRequest, storedIdempotencyKey, storedRequestHash } from "../../src/modules/personal-data/idempotency";
import { blindIndex, newKey } from "../../src/modules/keys/envelope";
import { RecordStatus } from "../../src/modules/personal-data/personal-data.enums";
import { correctedSince, valueReadRefusal } from "../../src/modules/personal-data/read-policy";
import { valueChanges } from "../../src/modules/personal-data/value-changes";
import { ProcessingPurpose as P } from "../../src/modules/purpose/processing-purpose";
import { codeOf } from "../helpers/assertions";

const T = "00000000-0000-4000-8000-000000000001";
const S = "00000000-0000-4000-8000-0000000000a1";
const code = codeOf;

describe("collection policy (rules 3, 11, pure)", () => {
  it("allows only the tenant's location, or none named", () => {
    assert.equal(
      code(() => checkResidency("US", "EU")),
      "RESIDENCY_VIOLATION",
    );
    assert.equal(
      code(() => checkResidency("EU", "EU")),
      "none",
    );
    assert.equal(
      code(() => checkResidency(null, "EU")),
      "none",
    );
  });

  it("caps a value at 64 KiB serialized, counting UTF-8 bytes", () => {
    assert.equal(checkValue({ v: "x".repeat(MAX_VALUE_BYTES - 8) }, "value"), MAX_VALUE_BYTES);
    assert.equal(
      code(() => checkValue({ v: "é".repeat(MAX_VALUE_BYTES / 2) }, "value")),
      "BAD_USER_INPUT",
    );
  });

  it("checks a draft's subject id and source, and names a batch item", () => {
    const draft = { dataSubjectId: S, category: "DEVICE", purposes: [P.SUPPORT], value: {} };
    assert.equal(
      code(() => checkRecordDraft({ ...draft, dataSubjectId: "x" }, "")),
      "BAD_USER_INPUT",
    );
    assert.equal(
      code(() => checkRecordDraft({ ...draft, sourceThirdPartyId: "apple" }, "")),
      "BAD_USER_INPUT",
    );
    assert.equal(checkRecordDraft({ ...draft, sourceThirdPartyId: T.toUpperCase() }, "").sourceThirdPartyId, T);
    const error = atBatchIndex(new BadUserInputError("records.3.value", "too big"), 3) as any;
    assert.deepEqual([error.extensions.code, error.extensions.field, error.extensions.index], ["BAD_USER_INPUT", "records.3.value", 3]);
  });
});

describe("value reads (rule 12, pure)", () => {
  const record = { tenantId: T, dataSubjectId: S, purposes: [P.SUPPORT], status: RecordStatus.ACTIVE };
  const who = (role: Role, extra: Partial<Principal> = {}): Principal => ({ subject: "x", role, tenantId: T, dataSubjectId: null, ...extra });

  it("allows the tenant's admin and integration for a declared purpose only", () => {
    assert.equal(valueReadRefusal(who(Role.TENANT_ADMIN), P.SUPPORT, record), null);
    assert.equal(valueReadRefusal(who(Role.INTEGRATION), P.SUPPORT, record), null);
    assert.equal(valueReadRefusal(who(Role.INTEGRATION), P.SECURITY, record), "PURPOSE_NOT_PERMITTED");
    assert.equal(valueReadRefusal(who(Role.TENANT_ADMIN), P.SUBJECT_ACCESS, record), "PURPOSE_NOT_PERMITTED");
    assert.equal(valueReadRefusal(who(Role.TENANT_ADMIN, { tenantId: S }), P.SUPPORT, record), "NOT_FOUND");
  });

  it("allows a data subject its own records with SUBJECT_ACCESS only", () => {
    const me = who(Role.DATA_SUBJECT, { dataSubjectId: S });
    assert.equal(valueReadRefusal(me, P.SUBJECT_ACCESS, record), null);
    assert.equal(valueReadRefusal(me, P.SUPPORT, record), "PURPOSE_NOT_PERMITTED");
    assert.equal(valueReadRefusal(who(Role.DATA_SUBJECT, { dataSubjectId: T }), P.SUBJECT_ACCESS, record), "NOT_FOUND");
  });

  it("never allows operators, auditors, partners, prohibited purposes or pending records", () => {
    for (const role of [Role.OPERATOR, Role.AUDITOR, Role.PARTNER]) assert.equal(valueReadRefusal(who(role), P.SUPPORT, record), "FORBIDDEN");
    assert.equal(valueReadRefusal(who(Role.TENANT_ADMIN), P.PROFILING, { ...record, purposes: [P.PROFILING] }), "PURPOSE_PROHIBITED");
    assert.equal(valueReadRefusal(who(Role.TENANT_ADMIN), P.MARKETING, record), "PURPOSE_PROHIBITED");
    assert.equal(valueReadRefusal(who(Role.TENANT_ADMIN), P.SUPPORT, { ...record, status: RecordStatus.PENDING_DELETION }), "RECORD_PENDING_DELETION");
  });
});

describe("deletion, idempotency and corrections (pure)", () => {
  it("puts the purge at request time plus the grace, within 1..30 days", () => {
    const now = new Date("2030-01-01T00:00:00Z");
    assert.equal(activeDeletion(now, 30).purgeDueAt.toISOString(), "2030-01-31T00:00:00.000Z");
    assert.throws(() => activeDeletion(now, 31));
    assert.equal(isActivelyDeletable({ status: "ACTIVE", deletionReason: null }), true);
    assert.equal(isActivelyDeletable({ status: "PENDING_DELETION", deletionReason: "PASSIVE_DELETION" }), true);
    assert.equal(isActivelyDeletable({ status: "PENDING_DELETION", deletionReason: "ACTIVE_DELETION" }), false);
  });

  it("hashes payloads independently of key order, and per operation", () => {
    assert.equal(canonicalJson({ b: 1, a: [{ y: 2, x: 1 }] }), '{"a":[{"x":1,"y":2}],"b":1}');
    assert.equal(requestHash("op", { a: 1, b: 2 }), requestHash("op", { b: 2, a: 1 }));
    assert.notEqual(requestHash("op", { a: 1 }), requestHash("other", { a: 1 }));
    assert.notEqual(requestHash("op", { a: 1 }), requestHash("op", { a: 2 }));
  });

  it("stores an idempotency key and its request's hash keyed: per tenant key, apart from the external ids' index, a plain hash of before still matching", () => {
    const [tenantA, tenantB] = [newKey(), newKey()];
    const key = "ada@contoso.example";
    assert.equal(storedIdempotencyKey(tenantA, key), storedIdempotencyKey(tenantA, key), "equal keys index equally");
    assert.notEqual(storedIdempotencyKey(tenantA, key), storedIdempotencyKey(tenantB, key), "another tenant's key indexes otherwise");
    assert.ok(!storedIdempotencyKey(tenantA, key).includes(blindIndex(tenantA, key)), "not the external id index of the same text");
    assert.ok(!storedIdempotencyKey(tenantA, key).includes("ada"));
    const plain = requestHash("op", { value: { email: key } });
    const keyed = storedRequestHash(tenantA, plain);
    assert.notEqual(keyed.slice(3), plain);
    assert.equal(sameRequest(keyed, keyed, plain), true);
    assert.equal(sameRequest(keyed, storedRequestHash(tenantA, requestHash("op", { value: 2 })), plain), false);
    assert.equal(sameRequest(plain, keyed, plain), true, "a hash stored plain before keys were blind");
    assert.equal(sameRequest(plain, keyed, requestHash("op", { value: 2 })), false);
  });

  it("counts changed keys without naming them", () => {
    assert.deepEqual(valueChanges({ a: 1, b: 2, c: { x: 1 } }, { a: 1, b: 3, c: { x: 1 }, d: 4 }), {
      changed: true,
      counts: { keysAdded: 1, keysRemoved: 0, keysChanged: 1 },
    });
    assert.deepEqual(valueChanges({ a: { y: 1, x: 2 } }, { a: { x: 2, y: 1 } }).changed, false);
  });

  it("counts keys named like Object's own members as keys (removing `constructor` is a change)", () => {
    for (const key of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      const before = JSON.parse(`{"${key}": "x", "a": 1}`);
      assert.deepEqual(valueChanges(before, { a: 1 }), { changed: true, counts: { keysAdded: 0, keysRemoved: 1, keysChanged: 0 } }, key);
      assert.deepEqual(valueChanges({ a: 1 }, before), { changed: true, counts: { keysAdded: 1, keysRemoved: 0, keysChanged: 0 } }, key);
    }
  });
});

describe("a value whose key is gone: corrected since its row was read, or shredded (pure)", () => {
  const now = (keyVersion: number | null, status = RecordStatus.ACTIVE, sealed: unknown = Buffer.alloc(1)) => ({ keyVersion, status, sealed });
  it("reads again a row that now holds a sealed value under a newer key, still ACTIVE", () => {
    assert.equal(correctedSince({ keyVersion: 1 }, now(2)), true);
    assert.equal(correctedSince({ keyVersion: 1 }, now(5)), true);
  });
  it("leaves shredded a row that is gone, still at the version read, older, pending deletion, or not sealed", () => {
    assert.equal(correctedSince({ keyVersion: 1 }, undefined), false, "purged");
    assert.equal(correctedSince({ keyVersion: 2 }, now(2)), false, "a restored backup's row, its key destroyed");
    assert.equal(correctedSince({ keyVersion: 3 }, now(2)), false);
    assert.equal(correctedSince({ keyVersion: 1 }, now(2, RecordStatus.PENDING_DELETION)), false, "values are read from ACTIVE records only");
    assert.equal(correctedSince({ keyVersion: 1 }, now(2, RecordStatus.ACTIVE, null)), false);
  });
});
