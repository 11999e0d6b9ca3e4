import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DataSource } from "typeorm";
import { LocalKeyProvider, newKey } from "../../src/modules/keys/envelope";
import { KeyRing } from "../../src/modules/keys/key-ring";
import { principals, startTestApp, TEST_MASTER_KEY, type TestApp } from "../helpers/app";
import { assertOk } from "../helpers/assertions";
import { createTenant, recordData, registerSubject } from "../helpers/factories";
import { lifecycleApp } from "../helpers/lifecycle";
import { holdNextStatement } from "../helpers/statements";

const SUBJECT = `query($id: ID!) { dataSubject(id: $id) { externalId records { nodes { value(purpose: SUPPORT) } } } }`;

/** Rotation re-wraps keys, never data: a new master key version, and new KEK versions, online and resumable. */
describe("key rotation", () => {
  let lifecycle: Awaited<ReturnType<typeof lifecycleApp>>;
  let app: TestApp;
  let keystore: DataSource;
  const sealedRows = async () => JSON.stringify(await app.db.query(`SELECT id, value_sealed FROM personal_data_record ORDER BY id`));

  before(async () => {
    lifecycle = await lifecycleApp();
    app = lifecycle.app;
    keystore = app.region().keystore!;
  });
  after(() => lifecycle.close());

  async function tenantWithData(subjects: number) {
    const tenant = await createTenant(app);
    const ids = [];
    for (let i = 0; i < subjects; i++) {
      const subject = await registerSubject(app, tenant.id, `person-${i}`);
      await recordData(app, tenant.id, subject.id, { value: { n: i } });
      ids.push(subject.id);
    }
    return { tenant, ids };
  }
  /** What a reader with `keys` (nothing cached) reads of the subjects. */
  async function readWith(keys: KeyRing, tenantId: string, ids: string[]) {
    const reader = await startTestApp({ databaseUrl: lifecycle.databaseUrl, keys });
    try {
      // Every read ends before the reader closes, also when one fails.
      const answers = await Promise.all(ids.map((id) => reader.as(principals.tenantAdmin(tenantId)).gql(SUBJECT, { id })));
      return answers.map((answer) => assertOk(answer).dataSubject);
    } finally {
      await reader.close();
    }
  }

  // First: the master key rotation below leaves this file's tenants under another master key.
  it("rotates each tenant's KEK: subject keys re-wrapped in batches, reads going on, an interrupted rotation finished and not started again", async () => {
    const { tenant, ids } = await tenantWithData(5);
    const fresh = () => new KeyRing(new LocalKeyProvider(TEST_MASTER_KEY));
    const expected = await readWith(fresh(), tenant.id, ids);
    const rows = await sealedRows();
    const versions = async () => ({
      keks: (await keystore.query(`SELECT version FROM tenant_key WHERE tenant_id = $1 AND kind = 'KEK' ORDER BY version`, [tenant.id])).map(
        (r: { version: number }) => r.version,
      ),
      subjects: (
        await keystore.query(`SELECT kek_version AS v, count(*)::int AS n FROM subject_key WHERE tenant_id = $1 GROUP BY 1 ORDER BY 1`, [tenant.id])
      ).map((r: { v: number; n: number }) => [r.v, r.n]),
    });
    assert.deepEqual(await versions(), { keks: [1], subjects: [[1, 5]] });

    // Stopped after its first batch of two: both versions live side by side, and every read works.
    let checks = 0;
    const stopAfterOneBatch = {
      get aborted() {
        return ++checks >= 2;
      },
    } as AbortSignal;
    await fresh().rotateKeks(keystore, app.clock.now(), 2, stopAfterOneBatch);
    assert.deepEqual(await versions(), {
      keks: [1, 2],
      subjects: [
        [1, 3],
        [2, 2],
      ],
    });
    assert.deepEqual(await readWith(fresh(), tenant.id, ids), expected, "reads go on mid-rotation");

    // The next run finishes it (no third version), then destroys the old KEK.
    assert.deepEqual(await fresh().rotateKeks(keystore, app.clock.now(), 2), { tenants: 1, subjectKeys: 3 });
    assert.deepEqual(await versions(), { keks: [2], subjects: [[2, 5]] });
    assert.deepEqual(await readWith(fresh(), tenant.id, ids), expected);
    assert.equal(await sealedRows(), rows, "no value was re-encrypted");
  });

  it("keeps a subject registered while its tenant's KEK is rotated readable: its key is never left under a destroyed KEK", async () => {
    const { tenant } = await tenantWithData(1);
    const fresh = () => new KeyRing(new LocalKeyProvider(TEST_MASTER_KEY));
    // The registration's subject key waits, wrapped under the KEK it read, while a rotation runs to its end.
    const gate = holdNextStatement(keystore, "INSERT INTO subject_key");
    try {
      const registering = registerSubject(app, tenant.id, "registered-mid-rotation");
      await gate.reached;
      gate.restore();
      await fresh().rotateKeks(keystore, app.clock.now());
      gate.release();
      const subject = await registering;
      await fresh().rotateKeks(keystore, app.clock.now());
      const [read] = await readWith(fresh(), tenant.id, [subject.id]);
      assert.equal(read.externalId, "registered-mid-rotation");
    } finally {
      gate.restore();
    }
  });

  it("writes for a subject whose key a rotation re-wraps between the read of its key and of its KEK", async () => {
    const { tenant, ids } = await tenantWithData(1);
    const fresh = () => new KeyRing(new LocalKeyProvider(TEST_MASTER_KEY));
    // An instance with nothing cached: it reads the subject's key, and its KEK, from the key store.
    const writer = await startTestApp({ databaseUrl: lifecycle.databaseUrl, keys: fresh() });
    const writerKeys = writer.region().keystore!;
    // The subject's key is read (under KEK 1); a whole rotation then runs before the write goes on.
    const gate = holdNextStatement(writerKeys, "FROM subject_key", "after");
    try {
      const writing = recordData(writer, tenant.id, ids[0], { value: { written: "mid-rotation" } });
      await gate.reached;
      gate.restore();
      await fresh().rotateKeks(keystore, app.clock.now());
      gate.release();
      await writing;
      const [read] = await readWith(fresh(), tenant.id, ids);
      assert.deepEqual(
        read.records.nodes.map((r: { value: unknown }) => r.value),
        [{ n: 0 }, { written: "mid-rotation" }],
      );
    } finally {
      gate.restore();
      await writer.close();
    }
  });

  it("re-wraps every tenant key under a new master key version, after which the old master key is not needed", async () => {
    const { tenant, ids } = await tenantWithData(3);
    const expected = await readWith(new KeyRing(new LocalKeyProvider(TEST_MASTER_KEY)), tenant.id, ids);
    const rows = await sealedRows();
    const next = newKey();
    const rotating = new KeyRing(new LocalKeyProvider(next, { version: 2, previous: new Map([[1, TEST_MASTER_KEY]]) }));
    assert.ok((await rotating.rewrapUnderMaster(keystore, 2)) >= 2, "the tenant's KEK and index key, in batches of 2");
    assert.deepEqual(await keystore.query(`SELECT DISTINCT master_version FROM tenant_key`), [{ master_version: 2 }]);
    assert.deepEqual(
      await readWith(new KeyRing(new LocalKeyProvider(next, { version: 2 })), tenant.id, ids),
      expected,
      "the new master key alone reads everything",
    );
    await assert.rejects(readWith(new KeyRing(new LocalKeyProvider(TEST_MASTER_KEY)), tenant.id, ids), "the old one alone no longer does");
    assert.equal(await sealedRows(), rows, "no value was re-encrypted");
  });
});
