import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { sealExisting } from "../../src/sealing";
import { requestHash } from "../../src/modules/personal-data/idempotency";
import { checkRecordDraft } from "../../src/modules/personal-data/collection-policy";
import { principals, type TestApp } from "../helpers/app";
import { assertOk } from "../helpers/assertions";
import { createTenant } from "../helpers/factories";
import { lifecycleApp } from "../helpers/lifecycle";
import { countStatements } from "../helpers/statements";
import { eventually } from "../helpers/receiver";

const SUBJECT = `query($id: ID!) { dataSubject(id: $id) { externalId displayName records { nodes { id value(purpose: SUPPORT) } } } }`;

/** Personal data written before sealing existed: sealed online, in batches, resumably, until none is left. */
describe("sealing existing personal data", () => {
  let lifecycle: Awaited<ReturnType<typeof lifecycleApp>>;
  let app: TestApp;

  before(async () => {
    lifecycle = await lifecycleApp();
    app = lifecycle.app;
  });
  after(() => lifecycle.close());

  /** Rows as a database from before sealing holds them: plaintext identifiers and values. */
  async function plaintextSubject(tenantId: string, canary: string, records: number) {
    const subjectId = randomUUID();
    await app.db.query(`INSERT INTO data_subject (id, tenant_id, external_id, display_name, created_at, updated_at) VALUES ($1, $2, $3, $4, now(), now())`, [
      subjectId,
      tenantId,
      `${canary}-ext`,
      `${canary} Name`,
    ]);
    const ids = Array.from({ length: records }, () => randomUUID());
    await app.db.query(
      `INSERT INTO personal_data_record (id, tenant_id, data_subject_id, category, purposes, storage_location_code, value, created_at, updated_at)
       SELECT id, $1, $2, 'CONTACT', '{SUPPORT}', 'EU', jsonb_build_object('email', $3::text || '-' || ord), now(), now()
         FROM unnest($4::uuid[]) WITH ORDINALITY AS r(id, ord)`,
      [tenantId, subjectId, canary, ids],
    );
    return { subjectId, ids };
  }
  const plaintextLeft = async () =>
    Number(
      (
        await app.db.query(
          `SELECT (SELECT count(*) FROM personal_data_record WHERE value IS NOT NULL) + (SELECT count(*) FROM data_subject WHERE external_id IS NOT NULL OR display_name IS NOT NULL) AS n`,
        )
      )[0].n,
    );

  it("seals every value and identifier in batches, resumes a run that stopped, and ends with none left in plain text", async () => {
    const canary = `CANARY-${randomUUID()}`;
    const tenant = await createTenant(app);
    const admin = app.as(principals.tenantAdmin(tenant.id));
    const { subjectId, ids } = await plaintextSubject(tenant.id, canary, 7);
    const read = assertOk(await admin.gql(SUBJECT, { id: subjectId })).dataSubject;
    assert.ok((await plaintextLeft()) >= 8, "the probe: plaintext is there to start with");
    assert.ok(JSON.stringify(await app.db.query(`SELECT * FROM personal_data_record WHERE tenant_id = $1`, [tenant.id])).includes(canary));

    // A run that is stopped after its first batch leaves the rest; the next one resumes.
    const stop = new AbortController();
    stop.abort();
    const first = await sealExisting(app.topology, app.keys, () => app.clock.now(), { batchSize: 3, signal: stop.signal });
    assert.ok(first.plaintextLeft.EU > 0, "stopped with plaintext left");
    // Two runs at once take different rows, and each row is sealed once.
    await Promise.all([1, 2].map(() => sealExisting(app.topology, app.keys, () => app.clock.now(), { batchSize: 3 })));
    assert.equal(await plaintextLeft(), 0, "nothing left once both have ended");

    const keys = await app
      .region()
      .keystore!.query(`SELECT record_id, count(*)::int AS n FROM record_key WHERE record_id = ANY($1::uuid[]) GROUP BY record_id`, [ids]);
    assert.deepEqual(
      keys.map((k: { n: number }) => k.n),
      ids.map(() => 1),
      "one key per record",
    );
    const rows = JSON.stringify(
      await app.db.query(`SELECT t::text FROM personal_data_record t WHERE tenant_id = $1 UNION ALL SELECT d::text FROM data_subject d WHERE tenant_id = $1`, [
        tenant.id,
      ]),
    );
    assert.ok(!rows.includes(canary), "no plaintext left in the rows");
    assert.deepEqual(assertOk(await app.as(principals.tenantAdmin(tenant.id)).gql(SUBJECT, { id: subjectId })).dataSubject, read, "everything reads as before");
    assert.equal((await sealExisting(app.topology, app.keys, () => app.clock.now())).plaintextLeft.EU, 0, "a later run finds nothing to do");
  });

  it("takes the key store's statistics once it has sealed anything: the planner does not take the keys it wrote for an empty table", async () => {
    const tenant = await createTenant(app);
    await plaintextSubject(tenant.id, `CANARY-${randomUUID()}`, 3);
    const keystore = app.region().keystore!;
    const analysed = async (): Promise<Array<[string, number]>> =>
      (
        await keystore.query(
          `SELECT relname, last_analyze FROM pg_stat_user_tables WHERE relname IN ('record_key', 'subject_key', 'tenant_key') ORDER BY relname`,
        )
      ).map((r: { relname: string; last_analyze: Date | null }) => [r.relname, r.last_analyze?.getTime() ?? 0]);
    const before = await analysed();
    await sealExisting(app.topology, app.keys, () => app.clock.now());
    // The statistics collector reports at most once a second per backend.
    const after = await eventually(async () => {
      const now = await analysed();
      return now.every(([, at], i) => at > before[i][1]) ? now : undefined;
    });
    assert.deepEqual(
      after.map(([name]) => name),
      ["record_key", "subject_key", "tenant_key"],
    );
  });

  it("analyses a key store whose tables were never analysed (one restored from a dump), also with nothing to seal", async () => {
    const keystore = app.region().keystore!;
    const unknown = async () =>
      (
        await keystore.query(`SELECT relname FROM pg_class WHERE relname IN ('record_key', 'subject_key', 'tenant_key') AND reltuples < 0 ORDER BY relname`)
      ).map((r: { relname: string }) => r.relname);
    // As a restore leaves them: no statistics.
    await keystore.query(`UPDATE pg_class SET reltuples = -1 WHERE relname IN ('record_key', 'tenant_key') AND relnamespace = 'public'::regnamespace`);
    assert.deepEqual(await unknown(), ["record_key", "tenant_key"], "the probe sees tables without statistics");
    const run = await sealExisting(app.topology, app.keys, () => app.clock.now());
    assert.equal(run.sealed.EU.values + run.sealed.EU.subjects, 0, "nothing to seal");
    assert.deepEqual(await unknown(), [], "every key table has its statistics");
  });

  it("seals a batch's subjects with a few key store statements, not a few per subject, and each one under its own key", async () => {
    const tenants = [await createTenant(app), await createTenant(app)];
    const canary = `CANARY-${randomUUID()}`;
    const subjects = [];
    for (let i = 0; i < 12; i++) subjects.push({ tenant: tenants[i % 2], ...(await plaintextSubject(tenants[i % 2].id, `${canary}-${i}`, 0)) });
    const { statements } = await countStatements(() => sealExisting(app.topology, app.keys, () => app.clock.now(), { batchSize: 100 }));
    // The run's statistics aside (the tests above): a look at the catalog, and ANALYZE.
    const keyStatements = statements.filter((s) => /\b(subject_key|tenant_key)\b/.test(s) && !s.startsWith("ANALYZE") && !s.includes("pg_class"));
    // Three for the batch's subject keys (read, made, read back), and for each new tenant its KEK
    // and index key (each read, made, read back); one by one it was four or more per subject.
    assert.ok(keyStatements.length <= 3 + 6 * tenants.length, `${keyStatements.length} key store statements for 12 subjects of 2 tenants`);
    assert.equal(await plaintextLeft(), 0);
    for (const [i, { tenant, subjectId }] of subjects.entries()) {
      const read = assertOk(await app.as(principals.tenantAdmin(tenant.id)).gql(SUBJECT, { id: subjectId })).dataSubject;
      assert.equal(read.externalId, `${canary}-${i}-ext`);
      assert.equal(read.displayName, `${canary}-${i} Name`);
    }
    const keys = await app
      .region()
      .keystore!.query(`SELECT count(DISTINCT wrapped)::int AS n FROM subject_key WHERE subject_id = ANY($1::uuid[])`, [subjects.map((s) => s.subjectId)]);
    assert.equal(keys[0].n, 12, "a key of its own for each subject");
  });

  it("seals subject requests' reasons written before they were sealed, and drops those of a subject purged since", async () => {
    const tenant = await createTenant(app);
    const canary = `CANARY-${randomUUID()}`;
    const { subjectId } = await plaintextSubject(tenant.id, `S-${randomUUID()}`, 0);
    // A subject purged since (its row gone), and one whose key is gone (a restored backup's row).
    const purgedSubject = randomUUID();
    const keyless = (await plaintextSubject(tenant.id, `K-${randomUUID()}`, 0)).subjectId;
    await sealExisting(app.topology, app.keys, () => app.clock.now());
    await app.region().keystore!.query(`DELETE FROM subject_key WHERE subject_id = $1`, [keyless]);
    // Requests as a database from before sealed reasons holds them: the reasons in plain text.
    const [kept, orphan, unkeyed] = [randomUUID(), randomUUID(), randomUUID()];
    await app.db.query(
      `INSERT INTO subject_request (id, tenant_id, data_subject_id, kind, status, received_at, clock_started_at, due_at, original_due_at,
                                    extension_reason, rejected_at, rejection_reason, created_at, updated_at)
       VALUES ($1, $3, $4, 'ACCESS', 'REJECTED', now(), now(), now() + interval '3 months', now() + interval '1 month', $6, now(), $7, now(), now()),
              ($2, $3, $5, 'ACCESS', 'REJECTED', now(), now(), now() + interval '1 month', NULL, NULL, now(), $8, now(), now()),
              ($9, $3, $10, 'ACCESS', 'REJECTED', now(), now(), now() + interval '1 month', NULL, NULL, now(), $8, now(), now())`,
      [kept, orphan, tenant.id, subjectId, purgedSubject, `${canary} extension`, `${canary} rejection`, `${canary} orphan`, unkeyed, keyless],
    );
    const rows = async () => JSON.stringify(await app.db.query(`SELECT r::text FROM subject_request r WHERE tenant_id = $1`, [tenant.id]));
    assert.ok((await rows()).includes(canary), "the probe finds a reason stored as its text");
    const run = await sealExisting(app.topology, app.keys, () => app.clock.now());
    assert.ok(run.sealed.EU.requestReasons >= 3);
    assert.equal(run.plaintextLeft.EU, 0);
    assert.ok(!(await rows()).includes(canary), "no reason left in plain text");
    const GET = `query($id: ID!) { subjectRequest(id: $id) { extensionReason rejectionReason } }`;
    const admin = app.as(principals.tenantAdmin(tenant.id));
    assert.deepEqual(assertOk(await admin.gql(GET, { id: kept })).subjectRequest, {
      extensionReason: `${canary} extension`,
      rejectionReason: `${canary} rejection`,
    });
    for (const id of [orphan, unkeyed])
      assert.deepEqual(assertOk(await admin.gql(GET, { id })).subjectRequest, { extensionReason: null, rejectionReason: null });
    const orphanKeys = await app
      .region()
      .keystore!.query(`SELECT count(*)::int AS n FROM subject_key WHERE subject_id = ANY($1::uuid[])`, [[purgedSubject, keyless]]);
    assert.equal(orphanKeys[0].n, 0, "no key made for a purged subject");
  });

  it("keeps idempotency keys as keyed blind indexes: a new key is never stored as its text, and a key of before replays after its conversion", async () => {
    const tenant = await createTenant(app);
    const integration = app.as(principals.integration(tenant.id));
    const { subjectId } = await plaintextSubject(tenant.id, `S-${randomUUID()}`, 0);
    await sealExisting(app.topology, app.keys, () => app.clock.now());
    const RECORD = `mutation($input: RecordPersonalDataInput!) { recordPersonalData(input: $input) { id } }`;
    const input = (idempotencyKey: string, email: string) => ({
      input: { tenantId: tenant.id, dataSubjectId: subjectId, category: "CONTACT", purposes: ["SUPPORT"], value: { email }, idempotencyKey },
    });
    const keyRows = async () => JSON.stringify(await app.db.query(`SELECT t::text FROM idempotency_key t WHERE tenant_id = $1`, [tenant.id]));

    const fresh = `ada.lovelace@contoso.example-${randomUUID()}`;
    const first = assertOk(await integration.gql(RECORD, input(fresh, "a@example.test"))).recordPersonalData.id;
    assert.equal(assertOk(await integration.gql(RECORD, input(fresh, "a@example.test"))).recordPersonalData.id, first, "replayed");
    assert.ok(!(await keyRows()).includes(fresh), "the key's text is in no row");
    assert.ok(!(await keyRows()).includes("a@example.test"));

    // A key claimed before keys were blind: its text and the plain hash of its request, as stored then.
    const old = `legacy-${randomUUID()}`;
    const legacy = assertOk(await integration.gql(RECORD, input(old, "b@example.test"))).recordPersonalData.id;
    const [row] = await app.db.query(`SELECT request_hash FROM idempotency_key WHERE tenant_id = $1 AND key LIKE 'b1:%' AND $2 = ANY(result_ids)`, [
      tenant.id,
      legacy,
    ]);
    // The hash as the service computes it of this request (its checked draft).
    const plainHash = requestHash("recordPersonalData", { ...checkRecordDraft(input(old, "b@example.test").input as never, ""), storageLocationCode: null });
    await app.db.query(`UPDATE idempotency_key SET key = $2, request_hash = $3 WHERE tenant_id = $1 AND request_hash = $4`, [
      tenant.id,
      old,
      plainHash,
      row.request_hash,
    ]);
    assert.ok((await keyRows()).includes(old), "the probe finds a key stored as its text");
    assert.ok((await sealExisting(app.topology, app.keys, () => app.clock.now())).sealed.EU.idempotencyKeys >= 1);
    assert.ok(!(await keyRows()).includes(old), "converted to its blind index");
    assert.equal(assertOk(await integration.gql(RECORD, input(old, "b@example.test"))).recordPersonalData.id, legacy, "and replays as before");
    const conflict = await integration.gql(RECORD, input(old, "c@example.test"));
    assert.ok(conflict.errors?.length, "another request under the old key is still refused");
  });
});
