import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { AuditService } from "../../src/modules/audit/audit.service";
import { TopologyRetention } from "../../src/modules/retention/topology-retention";
import { ensureDatabase, withDatabase } from "../../src/shared/db/topology";
import { principals, startTestApp, TEST_AUDIT_SIGNER, type TestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant, recordData } from "../helpers/factories";
import { at } from "../helpers/lifecycle";
import { startCluster, type Cluster } from "../helpers/pg15-cluster";

const READ = `query($id: ID!) { personalDataRecord(id: $id) { id category value(purpose: SUPPORT) } }`;
const SUBJECT = `query($id: ID!) { dataSubject(id: $id) { id externalId displayName } }`;
const CORRECT = `mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { id version } }`;
const DELETE_SUBJECT = `mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`;
const OPEN_REQUEST = `mutation($input: OpenSubjectRequestInput!) { openSubjectRequest(input: $input) { id } }`;
const EXTEND_REQUEST = `mutation($id: ID!, $reason: String!) { extendSubjectRequest(requestId: $id, reason: $reason) { id } }`;
const REQUEST = `query($id: ID!) { subjectRequest(id: $id) { status extensionReason } }`;
const REGISTER = `mutation($input: RegisterDataSubjectInput!) { registerDataSubject(input: $input) { id } }`;

/**
 * @own-servers: two PostgreSQL 15 clusters of its own (the machine's pg_dump is 15, and the
 * embedded server is 18): one for the data, one for the key stores, as production runs them.
 * The proof that deletion reaches backups: a dump taken before a correction and a purge, restored
 * and served with the key store of after, shows nothing of what was corrected or purged, and the
 * dump holds no personal data in plain text at all.
 */
describe("a restored backup after a correction and a purge", () => {
  let data: Cluster;
  let keys: Cluster;
  let app: TestApp;
  let restored: TestApp | undefined;

  before(async () => {
    [data, keys] = await Promise.all([startCluster("data"), startCluster("keys")]);
    await ensureDatabase(data.url, "custodian");
    app = await startTestApp({ databaseUrl: withDatabase(data.url, "custodian"), keystore: { serverUrl: keys.url, production: true } });
  });
  after(async () => {
    await restored?.close();
    await app?.close();
    await Promise.all([data?.destroy(), keys?.destroy()]);
  });

  it("reads the purged subject as shredded, the corrected value's old content as shredded, the rest as it was, and the dump holds no canary", async () => {
    const canary = `CANARY${randomUUID().replace(/-/g, "")}`;
    app.clock.set(at(0));
    const tenant = await createTenant(app, { retentionPolicy: { deletionGraceDays: 7 } });
    const admin = app.as(principals.tenantAdmin(tenant.id));
    const register = async (n: number) =>
      assertOk(await admin.gql(REGISTER, { input: { tenantId: tenant.id, externalId: `${canary}-ext-${n}`, displayName: `${canary} Person ${n}` } }))
        .registerDataSubject as { id: string };
    const [kept, purged] = [await register(1), await register(2)];
    const corrected = await recordData(app, tenant.id, kept.id, { value: { email: `${canary}-old@example.test` } });
    const untouched = await recordData(app, tenant.id, kept.id, { category: "DEVICE", value: { serial: `${canary}-serial` } });
    const gone = await recordData(app, tenant.id, purged.id, { value: { email: `${canary}-purged@example.test` } });
    // A request of the purged subject, with a reason an administrator wrote naming it.
    const request = assertOk(await admin.gql(OPEN_REQUEST, { input: { dataSubjectId: purged.id, kind: "RECTIFICATION" } })).openSubjectRequest.id;
    assertOk(await admin.gql(EXTEND_REQUEST, { id: request, reason: `Looking for ${canary} Person 2 in the archive` }));

    // The backup: a dump of the region database, before the correction and the purge.
    const regionDb = "custodian_eu";
    const backup = await data.dump(regionDb);
    assert.ok(backup.includes(gone.id), "the probe: the dump holds the rows");

    assertOk(await admin.gql(CORRECT, { input: { id: corrected.id, expectedVersion: 1, value: { email: `${canary}-new@example.test` } } }));
    assertOk(await admin.gql(DELETE_SUBJECT, { id: purged.id }));
    app.clock.set(at(8));
    await new TopologyRetention(app.topology, app.clock, new AuditService(), TEST_AUDIT_SIGNER, app.keys).run({ dryRun: false });

    // No personal data in plain text anywhere in the dump; the probe finds the canary where it is put in plain text.
    assert.ok(!backup.includes(canary), "no canary in the dump");
    assert.ok(`${backup}\n${canary}`.includes(canary));

    // The key store after the purge holds nothing of the purged subject.
    const keystoreDump = await keys.dump(`${regionDb}_keys`);
    assert.ok(keystoreDump.includes(kept.id), "the probe: the key store dump names the kept subject's key");
    assert.ok(!keystoreDump.includes(purged.id) && !keystoreDump.includes(gone.id), "and no key of the purged subject or its record");

    // Restore the dump into a fresh database, and serve it as the region with the key store of now.
    const restoredDb = "custodian_eu_restored";
    await ensureDatabase(data.url, restoredDb);
    const file = join(tmpdir(), `custodian-restore-${randomUUID()}.sql`);
    await writeFile(file, backup);
    await promisify(execFile)("psql", [
      "-h",
      "127.0.0.1",
      "-p",
      String(data.port),
      "-U",
      "postgres",
      "-d",
      restoredDb,
      "-v",
      "ON_ERROR_STOP=1",
      "-q",
      "-f",
      file,
    ]);
    const controlUrl = withDatabase(data.url, "custodian");
    restored = await startTestApp({
      databaseUrl: controlUrl,
      regionUrls: { EU: withDatabase(data.url, restoredDb) },
      keystore: { serverUrl: keys.url, urls: { EU: withDatabase(keys.url, `${regionDb}_keys`) }, production: true },
    });
    restored.clock.set(at(8));
    const reader = restored.as(principals.tenantAdmin(tenant.id));

    assertError(await reader.gql(SUBJECT, { id: purged.id }), "DATA_SHREDDED");
    assertError(await reader.gql(READ, { id: gone.id }), "DATA_SHREDDED");
    const oldValue = await reader.gql(READ, { id: corrected.id });
    assertError(oldValue, "DATA_SHREDDED");
    assert.ok(!JSON.stringify(oldValue).includes("-old@"), "the corrected value's old content is gone");
    assert.deepEqual(assertOk(await reader.gql(SUBJECT, { id: kept.id })).dataSubject, {
      id: kept.id,
      externalId: `${canary}-ext-1`,
      displayName: `${canary} Person 1`,
    });
    assert.deepEqual(assertOk(await reader.gql(READ, { id: untouched.id })).personalDataRecord.value, { serial: `${canary}-serial` });
    assert.deepEqual(
      assertOk(await reader.gql(REQUEST, { id: request })).subjectRequest,
      { status: "OPEN", extensionReason: null },
      "its request's reason went with it",
    );
    // Its retention run (the first runs at start) purges what the live database purged since the
    // backup: lists and counts leave the subject and its record out, as they are in the live one.
    await new TopologyRetention(restored.topology, restored.clock, new AuditService(), TEST_AUDIT_SIGNER, restored.keys).run({ dryRun: false });
    const LISTS = `query($id: ID!) { tenant(id: $id) { dataSubjects { totalCount nodes { id } } personalDataRecords { totalCount nodes { id } } } }`;
    const lists = assertOk(await reader.gql(LISTS, { id: tenant.id })).tenant;
    assert.deepEqual(lists.dataSubjects, { totalCount: 1, nodes: [{ id: kept.id }] });
    assert.deepEqual(lists.personalDataRecords.totalCount, 2);
    assert.deepEqual(lists.personalDataRecords.nodes.map((n: { id: string }) => n.id).sort(), [corrected.id, untouched.id].sort());
    assert.equal(assertOk(await reader.gql(SUBJECT, { id: purged.id })).dataSubject, null, "read by id as any purged subject: not there");
    // The live service shows the correction.
    assert.deepEqual(assertOk(await admin.gql(READ, { id: corrected.id })).personalDataRecord.value, { email: `${canary}-new@example.test` });
  });
});
