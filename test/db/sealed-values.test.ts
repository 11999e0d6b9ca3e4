import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import type { DataSource } from "typeorm";
import { AuditService } from "../../src/modules/audit/audit.service";
import { RetentionService } from "../../src/modules/retention/retention.service";
import type { Shredder } from "../../src/modules/keys/key-ring";
import { principals, startTestApp, TEST_AUDIT_SIGNER, type TestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { countStatements, holdNextStatement } from "../helpers/statements";
import { createTenant, recordData, registerSubject } from "../helpers/factories";
import { at, DELETE, END, lifecycleApp, REACTIVATE } from "../helpers/lifecycle";
import { eventually } from "../helpers/receiver";

const READ = `query($id: ID!) { personalDataRecord(id: $id) { value(purpose: SUPPORT) } }`;
const PAGE = `query($id: ID!) { tenant(id: $id) { personalDataRecords(first: 10) { nodes { id value(purpose: SUPPORT) } } } }`;
const CORRECT = `mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { id version } }`;
const DELETE_SUBJECT = `mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`;

/** Personal data sealed under keys of its own (crypto-shredding): at rest, corrected, tampered with, purged. */
describe("sealed record values", () => {
  let lifecycle: Awaited<ReturnType<typeof lifecycleApp>>;
  let app: TestApp;
  let keystore: DataSource;
  /** Another instance on the same databases: a key ring of its own, nothing cached, every key read from the key store. */
  let other: TestApp;

  before(async () => {
    lifecycle = await lifecycleApp();
    app = lifecycle.app;
    keystore = app.region().keystore!;
    other = await startTestApp({ databaseUrl: lifecycle.databaseUrl });
  });
  beforeEach(() => app.clock.reset());
  after(async () => {
    await other?.close();
    await lifecycle.close();
  });

  /** Every row of the tenant's records as text, bytes included, as a dump or a disk copy would hold them. */
  const tableText = async (tenantId: string) =>
    (await app.db.query(`SELECT t::text AS row, encode(t.value_sealed, 'escape') AS bytes FROM personal_data_record t WHERE tenant_id = $1`, [tenantId]))
      .map((r: { row: string; bytes: string | null }) => `${r.row}\n${r.bytes ?? ""}`)
      .join("\n");
  const keysOf = async (recordId: string): Promise<number[]> =>
    (await keystore.query(`SELECT version FROM record_key WHERE record_id = $1 ORDER BY version`, [recordId])).map((r: { version: number }) => r.version);
  /** Runs `action` while `db` refuses every `event` on `table` (a trigger raising REFUSED), as a failing store would. */
  const REFUSED = "refused by the test";
  const refuse = async (db: { query(sql: string): Promise<unknown> }, event: string, table: string, action: () => Promise<void>) => {
    await db.query(`CREATE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '${REFUSED}'; END $$`);
    await db.query(`CREATE TRIGGER refuse_write BEFORE ${event} ON ${table} FOR EACH ROW EXECUTE FUNCTION refuse_write()`);
    try {
      await action();
    } finally {
      await db.query(`DROP TRIGGER refuse_write ON ${table}`);
      await db.query(`DROP FUNCTION refuse_write()`);
    }
  };
  const countKeys = async (table: string, column: string, id: string): Promise<number> =>
    Number((await keystore.query(`SELECT count(*) AS n FROM ${table} WHERE ${column} = $1`, [id]))[0].n);

  it("stores no value in plain text: the canary reads back through the API and is in no row of the table", async () => {
    const canary = `CANARY-${randomUUID()}`;
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const record = await recordData(app, tenant.id, subject.id, { value: { email: `${canary}@example.test` } });
    const read = assertOk(await other.as(principals.tenantAdmin(tenant.id)).gql(READ, { id: record.id }));
    assert.equal(read.personalDataRecord.value.email, `${canary}@example.test`, "another instance opens it with the key store's key");
    assert.ok(!(await tableText(tenant.id)).includes(canary), "no row holds the canary");
    assert.deepEqual(await keysOf(record.id), [1], "its key is in the key store");
    // The probe finds a canary where one is: the same text in the clear.
    await app.db.query(`UPDATE personal_data_record SET value = $2, value_sealed = NULL, value_key_version = NULL WHERE id = $1`, [
      record.id,
      JSON.stringify({ email: `${canary}@example.test` }),
    ]);
    assert.ok((await tableText(tenant.id)).includes(canary), "the probe finds a plaintext canary");
  });

  it("stores no value whose key the key store did not take: the write fails and leaves no row (its key is stored while the row is written)", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const integration = app.as(principals.integration(tenant.id));
    const BATCH = `mutation($input: RecordPersonalDataBatchInput!) { recordPersonalDataBatch(input: $input) { count } }`;
    const batch = {
      tenantId: tenant.id,
      records: [0, 1, 2].map((i) => ({ dataSubjectId: subject.id, category: "DEVICE", purposes: ["SUPPORT"], value: { i } })),
    };
    const rows = async () => Number((await app.db.query(`SELECT count(*) AS n FROM personal_data_record WHERE tenant_id = $1`, [tenant.id]))[0].n);
    await refuse(keystore, "INSERT", "record_key", async () => {
      const refused = await integration.gql(BATCH, { input: batch });
      assert.ok(refused.errors?.length, "the batch fails");
      assert.ok(!JSON.stringify(refused).includes(REFUSED), "the key store's message is not echoed");
      await assert.rejects(recordData(app, tenant.id, subject.id, { value: { one: 1 } }));
      assert.equal(await rows(), 0, "no row was stored without its key");
    });
    // The probe counts rows where there are: the same batch, with the key store taking its keys.
    assertOk(await integration.gql(BATCH, { input: batch }));
    assert.equal(await rows(), 3);
  });

  it("makes the keys of many new subjects of one tenant with one read of the tenant's KEK, not one per subject", async () => {
    const tenant = await createTenant(app);
    // The tenant's KEK made with its first subject's key; then twenty subjects of it at once.
    await app.keys.subjectKeys(keystore, [{ tenantId: tenant.id, subjectId: randomUUID() }], app.clock.now());
    const refs = Array.from({ length: 20 }, () => ({ tenantId: tenant.id, subjectId: randomUUID() }));
    const { result, statements } = await countStatements(() => app.keys.subjectKeys(keystore, refs, app.clock.now()));
    assert.equal(result.size, 20);
    assert.equal(statements.filter((s) => /FROM tenant_key/.test(s)).length, 1);
    // Each under that KEK: another instance, reading every key from the key store, opens them to the same keys.
    const again = await other.keys.subjectKeys(keystore, refs, app.clock.now());
    for (const { subjectId } of refs) assert.deepEqual(again.get(subjectId), result.get(subjectId));
  });

  it("seals a subject's external id and display name: unique in the tenant by blind index, never in the table in plain text", async () => {
    const canary = `CANARY-${randomUUID()}`;
    const [tenant, stranger] = [await createTenant(app), await createTenant(app)];
    const admin = app.as(principals.tenantAdmin(tenant.id));
    const register = (caller: typeof admin, tenantId: string, externalId: string) =>
      caller.gql(`mutation($input: RegisterDataSubjectInput!) { registerDataSubject(input: $input) { id externalId displayName } }`, {
        input: { tenantId, externalId, displayName: `${canary} Name` },
      });
    const subject = assertOk(await register(admin, tenant.id, `${canary}-ext`)).registerDataSubject;
    assert.deepEqual([subject.externalId, subject.displayName], [`${canary}-ext`, `${canary} Name`]);
    const read = assertOk(
      await other.as(principals.tenantAdmin(tenant.id)).gql(`query($id: ID!) { dataSubject(id: $id) { externalId displayName } }`, { id: subject.id }),
    );
    assert.deepEqual(read.dataSubject, { externalId: `${canary}-ext`, displayName: `${canary} Name` }, "another instance opens them");

    const rows = JSON.stringify(
      await app.db.query(
        `SELECT t::text AS row, encode(external_id_sealed, 'escape'), encode(display_name_sealed, 'escape') FROM data_subject t WHERE tenant_id = $1`,
        [tenant.id],
      ),
    );
    assert.ok(!rows.includes(canary), "no row holds the canary");
    assert.ok(JSON.stringify(read).includes(canary), "the probe finds it in the answer");

    assertError(await register(admin, tenant.id, `${canary}-ext`), "BAD_USER_INPUT", "externalId");
    const elsewhere = assertOk(await register(app.as(principals.tenantAdmin(stranger.id)), stranger.id, `${canary}-ext`)).registerDataSubject;
    const [a, b] = await Promise.all(
      [subject.id, elsewhere.id].map(async (id) => (await app.db.query(`SELECT external_id_index FROM data_subject WHERE id = $1`, [id]))[0].external_id_index),
    );
    assert.notEqual(a, b, "each tenant's index key gives another index for the same external id");
  });

  it("corrects under a new key and destroys the old one: the old ciphertext, restored into the row, reads as shredded", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const record = await recordData(app, tenant.id, subject.id, { value: { email: "old@example.test" } });
    const [backup] = await app.db.query(`SELECT value_sealed, value_key_version FROM personal_data_record WHERE id = $1`, [record.id]);
    const admin = app.as(principals.tenantAdmin(tenant.id));
    assertOk(await admin.gql(CORRECT, { input: { id: record.id, expectedVersion: 1, value: { email: "new@example.test" } } }));
    assert.deepEqual(await keysOf(record.id), [2], "only the new value's key is left");
    assert.equal(assertOk(await other.as(principals.tenantAdmin(tenant.id)).gql(READ, { id: record.id })).personalDataRecord.value.email, "new@example.test");

    // A backup from before the correction holds the old ciphertext: restored into the row, no key opens it.
    await app.db.query(`UPDATE personal_data_record SET value_sealed = $2, value_key_version = $3 WHERE id = $1`, [
      record.id,
      backup.value_sealed,
      backup.value_key_version,
    ]);
    for (const caller of [admin, other.as(principals.tenantAdmin(tenant.id))]) {
      const answer = await caller.gql(READ, { id: record.id });
      assertError(answer, "DATA_SHREDDED");
      assert.ok(!JSON.stringify(answer).includes("old@example"));
    }
    // In a page that reads values, a shredded record is left out as the purged row it is, without an error.
    const kept = await recordData(app, tenant.id, subject.id, { value: { email: "kept@example.test" } });
    const page = await admin.gql(PAGE, { id: tenant.id });
    assert.equal(page.errors, undefined, JSON.stringify(page.errors));
    assert.deepEqual(page.data?.tenant.personalDataRecords.nodes, [{ id: kept.id, value: { email: "kept@example.test" } }]);
  });

  it("reads a value corrected between the read of its row and of its key as corrected, not shredded: by id, in a page and in an export", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const admin = app.as(principals.tenantAdmin(tenant.id));
    const after = { email: "after@example.test" };
    const EXPORT = `query($id: ID!) { exportDataSubject(id: $id, onRequest: "TICKET-1") { document } }`;
    // Read by id, in a page, and in the person's export (which shows each record's version beside its value).
    const cases = [
      { query: READ, id: (record: string) => record, read: (data: any) => data.personalDataRecord.value, expected: after },
      {
        query: PAGE,
        id: () => tenant.id,
        read: (data: any, record: string) => data.tenant.personalDataRecords.nodes.find((n: any) => n.id === record)?.value,
        expected: after,
      },
      {
        query: EXPORT,
        id: () => subject.id,
        read: (data: any, record: string) => {
          const exported = data.exportDataSubject.document.records.find((r: any) => r.id === record);
          return exported && { value: exported.value, version: exported.version };
        },
        expected: { value: after, version: 2 },
      },
    ];
    for (const { query, id, read, expected } of cases) {
      const record = await recordData(app, tenant.id, subject.id, { value: { email: "before@example.test" } });
      // Held as a slow key store would, between the read of the row and of its key.
      const gate = holdNextStatement(keystore, "AS want(record_id, version)");
      const reading = admin.gql(query, { id: id(record.id) });
      // A read that answers without reading its key (refused, or its key cached) would never be held.
      const unheld = reading.then((answer) => {
        throw new Error(`answered before its key was read: ${JSON.stringify(answer.errors)}`);
      });
      unheld.catch(() => undefined);
      await Promise.race([gate.reached, unheld]);
      gate.restore();
      // The read holds the row of version 1; the correction commits and destroys version 1's key.
      assertOk(await admin.gql(CORRECT, { input: { id: record.id, expectedVersion: 1, value: after } }));
      await eventually(async () => ((await keysOf(record.id)).join() === "2" ? true : undefined), 5000, "the old key's destruction");
      gate.release();
      assert.deepEqual(read(assertOk(await reading), record.id), expected, query);
    }
  });

  it("counts a purge's destruction only when it destroyed keys: one of nothing leaves the shred count as it was", async () => {
    const epoch = async () => Number((await keystore.query(`SELECT epoch FROM shred_epoch`))[0].epoch);
    const before = await epoch();
    await app.keys.destroyRecordKeys(keystore, [randomUUID()]);
    await app.keys.destroySubjectKeys(keystore, [randomUUID()]);
    await app.keys.destroyTenantKeys(keystore, randomUUID());
    assert.equal(await epoch(), before, "no key destroyed, no destruction counted (a region behind the count searches for keyless rows)");
    // The count does move for a destruction that destroyed a key.
    const tenant = await createTenant(app);
    const record = await recordData(app, tenant.id, (await registerSubject(app, tenant.id)).id);
    await app.keys.destroyRecordKeys(keystore, [record.id]);
    assert.deepEqual(await keysOf(record.id), []);
    assert.equal(await epoch(), before + 1);
  });

  it("finishes a correction that died before destroying the old key: the next retention run destroys it, and never a key a row still needs", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const admin = app.as(principals.tenantAdmin(tenant.id));
    const notes = async (recordId: string) =>
      (await keystore.query(`SELECT below_version FROM retired_record_key WHERE record_id = $1`, [recordId])).map(
        (r: { below_version: number }) => r.below_version,
      );
    // Committed, but the old key could not be destroyed after the commit (as if the process died there).
    const corrected = await recordData(app, tenant.id, subject.id, { value: { email: "old@example.test" } });
    await refuse(keystore, "DELETE", "record_key", async () => {
      assertOk(await admin.gql(CORRECT, { input: { id: corrected.id, expectedVersion: 1, value: { email: "new@example.test" } } }));
      await app.keys.vacuumed();
    });
    assert.deepEqual(await keysOf(corrected.id), [1, 2], "the old key outlived the correction");
    assert.deepEqual(await notes(corrected.id), [2]);

    // Rolled back after its new key was stored: the row still needs key 1.
    const rolledBack = await recordData(app, tenant.id, subject.id, { value: { email: "kept@example.test" } });
    await refuse(app.db, "UPDATE", "personal_data_record", async () => {
      const failed = await admin.gql(CORRECT, { input: { id: rolledBack.id, expectedVersion: 1, value: { email: "never@example.test" } } });
      assert.ok(failed.errors?.length);
    });
    assert.deepEqual(await keysOf(rolledBack.id), [1, 2]);

    await lifecycle.engine().run({ dryRun: false });
    assert.deepEqual(await keysOf(corrected.id), [2], "the run destroyed the old key");
    assert.deepEqual(await notes(corrected.id), [], "and its note");
    assert.deepEqual(await keysOf(rolledBack.id), [1, 2], "a row that still holds version 1 keeps its key");
    const read = (id: string) => other.as(principals.tenantAdmin(tenant.id)).gql(READ, { id });
    assert.equal(assertOk(await read(rolledBack.id)).personalDataRecord.value.email, "kept@example.test");
    assert.equal(assertOk(await read(corrected.id)).personalDataRecord.value.email, "new@example.test");
  });

  it("answers DATA_INTEGRITY_FAILURE for a tampered value, a value moved to another row and another tenant's key, for that value only", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const flipped = await recordData(app, tenant.id, subject.id, { value: { n: 1 } });
    const moved = await recordData(app, tenant.id, subject.id, { value: { n: 2 } });
    const rekeyed = await recordData(app, tenant.id, subject.id, { value: { n: 3 } });
    const intact = await recordData(app, tenant.id, subject.id, { value: { n: 4 } });
    const stranger = await createTenant(app);
    const foreign = await recordData(app, stranger.id, (await registerSubject(app, stranger.id)).id, { value: { n: 5 } });

    await app.db.query(`UPDATE personal_data_record SET value_sealed = overlay(value_sealed placing '\\xff'::bytea from 40 for 1) WHERE id = $1`, [flipped.id]);
    // The same subject's other record, sealed under the same key version: only the row binding differs.
    await app.db.query(`UPDATE personal_data_record SET value_sealed = (SELECT value_sealed FROM personal_data_record WHERE id = $2) WHERE id = $1`, [
      moved.id,
      intact.id,
    ]);
    await keystore.query(`UPDATE record_key SET wrapped = (SELECT wrapped FROM record_key WHERE record_id = $2) WHERE record_id = $1`, [
      rekeyed.id,
      foreign.id,
    ]);

    const reader = other.as(principals.tenantAdmin(tenant.id));
    for (const record of [flipped, moved, rekeyed]) {
      const answer = await reader.gql(READ, { id: record.id });
      assertError(answer, "DATA_INTEGRITY_FAILURE");
      assert.ok(!JSON.stringify(answer).includes('"n"'), "no value in the answer");
    }
    // A page keeps the rest: the failing records are left out, each named by an error.
    const page = await reader.gql(PAGE, { id: tenant.id });
    assert.deepEqual(page.data?.tenant.personalDataRecords.nodes, [{ id: intact.id, value: { n: 4 } }], JSON.stringify(page));
    assert.deepEqual(
      (page.errors ?? []).map((e) => [e.extensions.code, e.extensions.recordId]),
      [flipped.id, moved.id, rekeyed.id].sort().map((id) => ["DATA_INTEGRITY_FAILURE", id]),
    );
    assert.ok(
      other.logs.some((line) => line.includes("failed authentication") && line.includes(flipped.id)),
      "the failure is logged by record id",
    );
  });

  it("answers a value it opened before from memory only for the same ciphertext of the same row while its key lives: not tampered, moved, rebound, corrected or purged ones", async () => {
    app.clock.set(at(0));
    const tenant = await createTenant(app, { retentionPolicy: { deletionGraceDays: 7 } });
    const [subject, another] = [await registerSubject(app, tenant.id), await registerSubject(app, tenant.id)];
    const records: Record<string, { id: string }> = {};
    for (const [name, n] of [
      ["flipped", 1],
      ["moved", 2],
      ["source", 3],
      ["rebound", 4],
      ["corrected", 5],
      ["purged", 6],
    ] as const)
      records[name] = await recordData(app, tenant.id, subject.id, { value: { n } });
    const reader = app.as(principals.tenantAdmin(tenant.id));
    assert.equal(assertOk(await reader.gql(PAGE, { id: tenant.id })).tenant.personalDataRecords.nodes.length, 6);
    for (const record of Object.values(records)) assert.ok(app.keys.openedWith({ recordId: record.id, version: 1 }), "the probe: each value read is kept");

    const backup = {
      corrected: (await app.db.query(`SELECT value_sealed FROM personal_data_record WHERE id = $1`, [records.corrected.id]))[0],
      purged: (await app.db.query(`SELECT * FROM personal_data_record WHERE id = $1`, [records.purged.id]))[0],
    };
    await app.db.query(`UPDATE personal_data_record SET value_sealed = overlay(value_sealed placing '\\xff'::bytea from 40 for 1) WHERE id = $1`, [
      records.flipped.id,
    ]);
    await app.db.query(`UPDATE personal_data_record SET value_sealed = (SELECT value_sealed FROM personal_data_record WHERE id = $2) WHERE id = $1`, [
      records.moved.id,
      records.source.id,
    ]);
    // Its ciphertext untouched, the row now says it is another subject's.
    await app.db.query(`UPDATE personal_data_record SET data_subject_id = $2 WHERE id = $1`, [records.rebound.id, another.id]);
    assertOk(await reader.gql(CORRECT, { input: { id: records.corrected.id, expectedVersion: 1, value: { n: 50 } } }));
    assertOk(await app.as(principals.integration(tenant.id)).gql(DELETE, { id: records.purged.id }));
    app.clock.set(at(8));
    await lifecycle.engine().run({ dryRun: false });
    // A backup's rows, back in the table, with their old ciphertexts: their keys are gone.
    await app.db.query(`UPDATE personal_data_record SET value_sealed = $2, value_key_version = 1 WHERE id = $1`, [
      records.corrected.id,
      backup.corrected.value_sealed,
    ]);
    const columns = Object.keys(backup.purged);
    await app.db.query(
      `INSERT INTO personal_data_record (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`,
      columns.map((c) => backup.purged[c]),
    );

    const expected = {
      flipped: "DATA_INTEGRITY_FAILURE",
      moved: "DATA_INTEGRITY_FAILURE",
      rebound: "DATA_INTEGRITY_FAILURE",
      corrected: "DATA_SHREDDED",
      purged: "DATA_SHREDDED",
    };
    for (const [name, code] of Object.entries(expected)) {
      const answer = await reader.gql(READ, { id: records[name].id });
      assert.equal(answer.errors?.[0]?.extensions.code, code, `${name}: ${JSON.stringify(answer)}`);
      assert.ok(!JSON.stringify(answer).includes('"n"'), `${name}: no value in the answer`);
    }
    assert.deepEqual(assertOk(await reader.gql(READ, { id: records.source.id })).personalDataRecord.value, { n: 3 }, "the untouched one reads on");
  });

  it("destroys a purged record's key, a purged subject's keys and a purged tenant's keys in the run that purges their rows", async () => {
    app.clock.set(at(0));
    const tenant = await createTenant(app, { retentionPolicy: { deletionGraceDays: 7 } });
    const subject = await registerSubject(app, tenant.id);
    const purged = await recordData(app, tenant.id, subject.id);
    const kept = await recordData(app, tenant.id, subject.id);
    assertOk(await app.as(principals.integration(tenant.id)).gql(DELETE, { id: purged.id }));
    app.clock.set(at(8));
    await lifecycle.engine().run({ dryRun: false });
    assert.deepEqual(await keysOf(purged.id), [], "the purged record's key is gone");
    assert.deepEqual(await keysOf(kept.id), [1], "the other record's key stays");

    assertOk(await app.as(principals.tenantAdmin(tenant.id)).gql(DELETE_SUBJECT, { id: subject.id }));
    app.clock.set(at(16));
    await lifecycle.engine().run({ dryRun: false });
    assert.equal(await countKeys("subject_key", "subject_id", subject.id), 0, "the purged subject's key is gone");
    assert.deepEqual(await keysOf(kept.id), [], "and every key under it");

    const survivor = await registerSubject(app, tenant.id);
    await recordData(app, tenant.id, survivor.id);
    assert.ok((await countKeys("tenant_key", "tenant_id", tenant.id)) > 0);
    assertOk(await app.as(principals.operator()).gql(END, { id: tenant.id }));
    app.clock.set(at(24));
    await lifecycle.engine().run({ dryRun: false });
    for (const table of ["tenant_key", "subject_key", "record_key"])
      assert.equal(await countKeys(table, "tenant_id", tenant.id), 0, `${table}: the tenant's keys are gone`);
  });

  it("answers DATA_SHREDDED for the identifiers of a purged subject's row restored from a backup", async () => {
    app.clock.set(at(0));
    const tenant = await createTenant(app, { retentionPolicy: { deletionGraceDays: 7 } });
    const subject = await registerSubject(app, tenant.id, "restored-person");
    const [backup] = await app.db.query(`SELECT * FROM data_subject WHERE id = $1`, [subject.id]);
    assertOk(await app.as(principals.tenantAdmin(tenant.id)).gql(DELETE_SUBJECT, { id: subject.id }));
    app.clock.set(at(8));
    await lifecycle.engine().run({ dryRun: false });
    assert.equal((await app.db.query(`SELECT 1 FROM data_subject WHERE id = $1`, [subject.id])).length, 0, "purged");
    // The backup's row, back in the table: its key is gone.
    const columns = Object.keys(backup);
    await app.db.query(
      `INSERT INTO data_subject (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`,
      columns.map((c) => backup[c]),
    );
    for (const caller of [app, other]) {
      const answer = await caller.as(principals.tenantAdmin(tenant.id)).gql(`query($id: ID!) { dataSubject(id: $id) { id externalId } }`, { id: subject.id });
      assertError(answer, "DATA_SHREDDED");
      assert.ok(!JSON.stringify(answer).includes("restored-person"));
    }
  });

  it("purges a restored backup's purged rows: the next retention run deletes the sealed rows whose keys are gone, and lists and counts leave them out", async () => {
    app.clock.set(at(0));
    const tenant = await createTenant(app, { retentionPolicy: { deletionGraceDays: 7 } });
    const admin = app.as(principals.tenantAdmin(tenant.id));
    const [kept, purged] = [await registerSubject(app, tenant.id), await registerSubject(app, tenant.id)];
    const keptRecord = await recordData(app, tenant.id, kept.id);
    const purgedRecord = await recordData(app, tenant.id, kept.id);
    const purgedSubjectRecord = await recordData(app, tenant.id, purged.id);
    const COUNTS = `query($id: ID!) { tenant(id: $id) { dataSubjects { totalCount nodes { id } } personalDataRecords { totalCount nodes { id } } } }`;
    const counts = async () => {
      const t = assertOk(await admin.gql(COUNTS, { id: tenant.id })).tenant;
      return {
        subjects: [t.dataSubjects.totalCount, t.dataSubjects.nodes.length],
        records: [t.personalDataRecords.totalCount, t.personalDataRecords.nodes.length],
      };
    };
    // The backup: these rows, and the shred count the database had seen, as a dump holds them.
    const backup = {
      subject: (await app.db.query(`SELECT * FROM data_subject WHERE id = $1`, [purged.id]))[0],
      records: await app.db.query(`SELECT * FROM personal_data_record WHERE id = ANY($1::uuid[])`, [[purgedRecord.id, purgedSubjectRecord.id]]),
      epoch: (await app.db.query(`SELECT epoch FROM shred_epoch`))[0].epoch,
    };
    assertOk(await app.as(principals.integration(tenant.id)).gql(DELETE, { id: purgedRecord.id }));
    assertOk(await admin.gql(DELETE_SUBJECT, { id: purged.id }));
    app.clock.set(at(8));
    await lifecycle.engine().run({ dryRun: false });
    assert.deepEqual(await counts(), { subjects: [1, 1], records: [1, 1] }, "purged live");

    const restore = async (table: string, row: Record<string, unknown>) => {
      const columns = Object.keys(row);
      await app.db.query(
        `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`,
        columns.map((c) => row[c]),
      );
    };
    await restore("data_subject", backup.subject);
    for (const row of backup.records) await restore("personal_data_record", row);
    await app.db.query(`UPDATE shred_epoch SET epoch = $1`, [backup.epoch]);
    assert.deepEqual(await counts(), { subjects: [2, 2], records: [3, 3] }, "the probe: the restored rows are listed until the run");
    assertError(await admin.gql(READ, { id: purgedRecord.id }), "DATA_SHREDDED");
    // Nothing new is recorded for the purged subject meanwhile: it would get a key of its own and stay.
    const RECORD = `mutation($input: RecordPersonalDataInput!) { recordPersonalData(input: $input) { id } }`;
    const write = (dataSubjectId: string) =>
      app
        .as(principals.integration(tenant.id))
        .gql(RECORD, { input: { tenantId: tenant.id, dataSubjectId, category: "CONTACT", purposes: ["SUPPORT"], value: { email: "new@example.test" } } });
    assertError(await write(purged.id), "DATA_SHREDDED");
    assert.equal(await countKeys("subject_key", "subject_id", purged.id), 0, "no new key for the purged subject");
    assertOk(await write(kept.id));

    await lifecycle.engine().run({ dryRun: false });
    assert.deepEqual(await counts(), { subjects: [1, 1], records: [2, 2] }, "purged again, as the live database purged them");
    assert.deepEqual(assertOk(await admin.gql(READ, { id: purgedRecord.id })).personalDataRecord, null, "read by id as any purged record: not there");
    assert.ok(assertOk(await admin.gql(READ, { id: keptRecord.id })).personalDataRecord.value, "the rows with keys are untouched");
    const [entry] = await app.db.query(
      `SELECT details FROM audit_log WHERE tenant_id = $1 AND action = 'DATA_SUBJECTS_PURGED' AND (details->>'keysDestroyed')::boolean`,
      [tenant.id],
    );
    assert.equal(entry?.details.recordsPurged, 1, "audited: the subject, with its record");
    // Level again: the next run does not scan.
    assert.equal((await app.db.query(`SELECT epoch FROM shred_epoch`))[0].epoch, (await keystore.query(`SELECT epoch FROM shred_epoch`))[0].epoch);
  });

  it("destroys keys before rows: a run that dies between them leaves rows pending deletion that no one can restore, and the next run deletes them", async () => {
    app.clock.set(at(0));
    const tenant = await createTenant(app, { retentionPolicy: { deletionGraceDays: 7 } });
    const subject = await registerSubject(app, tenant.id);
    const record = await recordData(app, tenant.id, subject.id);
    assertOk(await app.as(principals.operator()).gql(END, { id: tenant.id }));
    app.clock.set(at(8));
    // The crash: the due records' keys are destroyed, then the run dies before their rows are deleted.
    const shredder = app.keys.shredder(keystore);
    const dying: Shredder = { ...shredder, records: async (ids) => (await shredder.records(ids), Promise.reject(new Error("the process died"))) };
    await assert.rejects(new RetentionService(app.maintenance, app.clock, new AuditService(), TEST_AUDIT_SIGNER, dying).run({ dryRun: false }), /died/);
    const [row] = await app.db.query(`SELECT status FROM personal_data_record WHERE id = $1`, [record.id]);
    assert.equal(row.status, "PENDING_DELETION", "the row is still there, pending deletion");
    assert.deepEqual(await keysOf(record.id), [], "its key is gone");
    // Never an ACTIVE row without its key: the tenant cannot be reactivated once its purge is due.
    assertError(await app.as(principals.operator()).gql(REACTIVATE, { id: tenant.id }), "INVALID_STATE");
    await lifecycle.engine().run({ dryRun: false });
    assert.equal((await app.db.query(`SELECT 1 FROM personal_data_record WHERE id = $1`, [record.id])).length, 0, "the next run deletes it");
  });
});
