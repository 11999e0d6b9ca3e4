import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { sealExisting } from "../../src/sealing";
import { principals, type TestApp } from "../helpers/app";
import { assertOk } from "../helpers/assertions";
import { createTenant } from "../helpers/factories";
import { lifecycleApp } from "../helpers/lifecycle";

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
});
