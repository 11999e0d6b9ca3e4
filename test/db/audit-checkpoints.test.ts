import assert from "node:assert/strict";
import { createPublicKey, verify as verifySignature } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { AuditCheckpointer } from "../../src/modules/audit/audit-checkpoints";
import { Concurrency } from "../../src/shared/concurrency";
import { type TestApp, roles, startTestApp, TEST_AUDIT_SIGNER } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant } from "../helpers/factories";
import { isolatedDatabase } from "../helpers/isolated-db";

const VERIFY = `query($id: ID!, $full: Boolean) {
  verifyAuditLog(tenantId: $id, full: $full) { valid entriesChecked firstInvalidEntryId problem full checkpoint { chainSeq hash } }
}`;
const UPDATE = `mutation($id: ID!, $input: RetentionPolicyInput!) { updateRetentionPolicy(tenantId: $id, input: $input) { id } }`;

/**
 * Signed checkpoints anchor each chain outside its rows (rule 27): a chain cut short, rewritten,
 * or with entries removed before its newest checkpoint no longer verifies, and a tenant can check
 * the signatures with the published key. A database of its own: the checkpointer signs every
 * chain, and what a default verification checks depends on when it last did.
 */
describe("audit checkpoints", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  let drop: () => Promise<void>;
  const checkpointer = () => new AuditCheckpointer(app.maintenance, TEST_AUDIT_SIGNER);
  const verify = async (tenantId: string, full = false) => assertOk(await as.asAuditor(tenantId).gql(VERIFY, { id: tenantId, full })).verifyAuditLog;
  /** As someone with direct database access: triggers off for this transaction. */
  const tamper = (...statements: Array<[string, unknown[]]>) =>
    app.db.transaction(async (m) => {
      await m.query("SET LOCAL session_replication_role = replica");
      for (const [sql, params] of statements) await m.query(sql, params);
    });
  const entries = async (tenantId: string): Promise<Array<{ id: string; chain_seq: string; hash: string }>> =>
    app.db.query("SELECT id, chain_seq, hash FROM audit_log WHERE tenant_id = $1 ORDER BY chain_seq", [tenantId]);
  async function tenantWithEntries(n: number) {
    const t = await createTenant(app);
    for (let i = 1; i < n; i++) assertOk(await as.asTenantAdmin(t.id).gql(UPDATE, { id: t.id, input: { deletionGraceDays: i } }));
    return t;
  }
  /** Cuts the chain back to `seq` and moves its head there, as a careful intruder would. */
  const truncateTo = async (tenantId: string, seq: number) => {
    const kept = (await entries(tenantId)).find((e) => Number(e.chain_seq) === seq)!;
    await tamper(
      ["DELETE FROM audit_log WHERE tenant_id = $1 AND chain_seq > $2", [tenantId, seq]],
      ["UPDATE audit_chain SET last_seq = $2, last_hash = $3 WHERE chain_key = $1", [tenantId, seq, kept.hash]],
    );
  };
  /** Edits entry `seq` and recomputes every hash from there on, head included. */
  const rewriteFrom = async (tenantId: string, seq: number) => {
    await tamper(["UPDATE audit_log SET actor = 'someone else' WHERE tenant_id = $1 AND chain_seq = $2", [tenantId, seq]]);
    for (const e of (await entries(tenantId)).filter((x) => Number(x.chain_seq) >= seq)) {
      await tamper(
        [`UPDATE audit_log a SET prev_hash = p.hash FROM audit_log p WHERE a.id = $1 AND p.tenant_id = a.tenant_id AND p.chain_seq = a.chain_seq - 1`, [e.id]],
        [`UPDATE audit_log a SET hash = audit_log_hash(a.prev_hash, a) WHERE a.id = $1`, [e.id]],
      );
    }
    const [last] = (await entries(tenantId)).slice(-1);
    await tamper(["UPDATE audit_chain SET last_hash = $2 WHERE chain_key = $1", [tenantId, last.hash]]);
  };

  before(async () => {
    const database = await isolatedDatabase();
    drop = database.drop;
    app = await startTestApp({ databaseUrl: database.url });
    as = roles(app);
  });
  after(async () => {
    await app.close();
    await drop();
  });

  it("signs each chain where it verified; the tenant checks the signature with the published key, and the next check starts there", async () => {
    const t = await tenantWithEntries(4);
    const run = await checkpointer().sign(app.clock.now());
    assert.ok(run.signed >= 1);
    assert.deepEqual(run.invalidChains, []);
    const data = assertOk(
      await as
        .asAuditor(t.id)
        .gql(
          `query($id: ID!) { auditSigningKey { keyId algorithm publicKeyPem } tenant(id: $id) { auditCheckpoints { chainSeq hash keyId signature message } } }`,
          { id: t.id },
        ),
    );
    const [checkpoint] = data.tenant.auditCheckpoints;
    const newest = (await entries(t.id)).at(-1)!;
    assert.deepEqual([checkpoint.chainSeq, checkpoint.hash], [newest.chain_seq, newest.hash]);
    assert.match(checkpoint.message, new RegExp(`chain=${t.id} seq=${newest.chain_seq} hash=${newest.hash} `));
    // What a tenant does with its copy, with nothing of ours: Ed25519 over the message.
    assert.equal(data.auditSigningKey.algorithm, "Ed25519");
    assert.equal(checkpoint.keyId, data.auditSigningKey.keyId);
    const key = createPublicKey(data.auditSigningKey.publicKeyPem);
    assert.equal(verifySignature(null, Buffer.from(checkpoint.message), key, Buffer.from(checkpoint.signature, "base64url")), true);
    assert.equal(verifySignature(null, Buffer.from(checkpoint.message.replace("seq=", "seq=1")), key, Buffer.from(checkpoint.signature, "base64url")), false);

    // From the checkpoint: its own entry and the one written since (this read's policy change).
    assertOk(await as.asTenantAdmin(t.id).gql(UPDATE, { id: t.id, input: { deletionGraceDays: 9 } }));
    const result = await verify(t.id);
    assert.deepEqual(result, {
      valid: true,
      entriesChecked: 2,
      firstInvalidEntryId: null,
      problem: null,
      full: false,
      checkpoint: { chainSeq: newest.chain_seq, hash: newest.hash },
    });
    assert.equal((await verify(t.id, true)).entriesChecked, 5);
    // Nothing new to sign for a chain that did not move.
    assert.equal((await checkpointer().sign(app.clock.now())).signed, 1, "only this chain moved");
  });

  it("finds the newest entries removed and the head moved back, which verifies without a checkpoint", async () => {
    const unanchored = await tenantWithEntries(5);
    const anchored = await tenantWithEntries(5);
    await checkpointer().sign(app.clock.now());
    // The probe: without a checkpoint, the same cut is invisible (there is nothing to compare with).
    await app.db.query("DELETE FROM audit_checkpoint WHERE chain_key = $1", [unanchored.id]);
    await truncateTo(unanchored.id, 3);
    assert.equal((await verify(unanchored.id, true)).valid, true);

    await truncateTo(anchored.id, 3);
    for (const full of [false, true]) {
      const result = await verify(anchored.id, full);
      assert.equal(result.valid, false);
      assert.match(result.problem, /ends before its newest signed checkpoint/);
    }
  });

  it("finds every hash recomputed after an edit, which verifies without a checkpoint", async () => {
    const unanchored = await tenantWithEntries(4);
    const anchored = await tenantWithEntries(4);
    await checkpointer().sign(app.clock.now());
    await app.db.query("DELETE FROM audit_checkpoint WHERE chain_key = $1", [unanchored.id]);
    await rewriteFrom(unanchored.id, 2);
    assert.equal((await verify(unanchored.id, true)).valid, true, "the probe: a full rewrite is a valid chain");

    await rewriteFrom(anchored.id, 2);
    for (const full of [false, true]) {
      const result = await verify(anchored.id, full);
      assert.equal(result.valid, false, `full: ${full}`);
      assert.match(result.problem, /signed checkpoint/);
    }
  });

  it("finds an entry removed before the checkpoint without hashing it, and an altered checkpoint", async () => {
    const t = await tenantWithEntries(4);
    await checkpointer().sign(app.clock.now());
    const [, second] = await entries(t.id);
    await tamper(["DELETE FROM audit_log WHERE id = $1", [second.id]]);
    const result = await verify(t.id);
    assert.deepEqual([result.valid, result.entriesChecked], [false, 0]);
    assert.match(result.problem, /removed or inserted \(3 held where 4 were signed\)/);

    const u = await tenantWithEntries(2);
    await checkpointer().sign(app.clock.now());
    await app.db.query("UPDATE audit_checkpoint SET signed_at = signed_at + interval '1 second' WHERE chain_key = $1", [u.id]);
    assert.match((await verify(u.id)).problem, /signature does not verify/);
  });

  it("signs nothing for a chain that does not verify, and says which", async () => {
    const t = await tenantWithEntries(3);
    const [first] = await entries(t.id);
    await tamper(["UPDATE audit_log SET actor = 'someone else' WHERE id = $1", [first.id]]);
    const run = await checkpointer().sign(app.clock.now());
    assert.ok(run.invalidChains.includes(t.id));
    assert.deepEqual(await app.db.query("SELECT chain_seq FROM audit_checkpoint WHERE chain_key = $1", [t.id]), []);
  });

  it("prices a verification as one per request", async () => {
    const t = await createTenant(app);
    const twice = `query($id: ID!) { a: verifyAuditLog(tenantId: $id) { valid } b: verifyAuditLog(tenantId: $id) { valid } }`;
    assertError(await as.asAuditor(t.id).gql(twice, { id: t.id }), "QUERY_TOO_COMPLEX");
  });
});

describe("heavy work per process (pure)", () => {
  it("runs at most its limit at once, refuses more as RATE_LIMITED, and frees as work ends", async () => {
    const limit = new Concurrency(2, "verifications");
    let release!: () => void;
    const held = new Promise<void>((ok) => (release = ok));
    const running = [limit.run(() => held), limit.run(() => held)];
    await assert.rejects(
      limit.run(async () => "third"),
      (e: Error & { extensions?: { code?: string } }) => /2 verifications are running/.test(e.message),
    );
    release();
    await Promise.all(running);
    assert.equal(await limit.run(async () => "after"), "after");
  });
});
