import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Client } from "pg";
import { type TestApp, principals, roles, startTestApp } from "../helpers/app";
import { assertOk } from "../helpers/assertions";
import { consentedAgreement, createTenant, declaredIncident } from "../helpers/factories";
import { startCluster, type Cluster } from "../helpers/pg15-cluster";
import { serversUsed } from "../helpers/statements";

/** @own-servers: five PostgreSQL 15 clusters of its own, one per location and control. */

const LOCATIONS = ["EU", "US", "UK", "APAC"] as const;
const DAY = 86_400_000;

/** A database `name` on the cluster, for the service to use. */
async function createDatabase(cluster: Cluster, name: string): Promise<string> {
  const client = new Client({ connectionString: cluster.url });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  return cluster.url.replace(/\/postgres$/, `/${name}`);
}

/**
 * Physical residency (DOMAIN rule 3): one PostgreSQL cluster for control and one per storage
 * location. Every tenant's personal data, written through every kind of operation, is found in
 * its own location's dump, and in no other dump or server log.
 */
describe("physical residency: each tenant's data only in its own location's cluster", () => {
  const clusters = new Map<string, Cluster>();
  let app: TestApp;
  /** Per location: the tenant there, the canary every value of it carries, and its subject's and records' ids. */
  const tenants = new Map<string, { id: string; canary: string; rowIds: string[] }>();

  before(async () => {
    const started = await Promise.all(["CONTROL", ...LOCATIONS].map((name) => startCluster(name)));
    for (const c of started) clusters.set(c.name, c);
    const regionUrls: Record<string, string> = {};
    for (const code of LOCATIONS) regionUrls[code] = await createDatabase(clusters.get(code)!, "custodian");
    app = await startTestApp({ databaseUrl: await createDatabase(clusters.get("CONTROL")!, "custodian"), regionUrls });
    app.clock.set(new Date("2041-01-01T00:00:00Z"));
    const as = roles(app);

    await everyKindOfWork(app, as);
  });

  /** Every tenant, with every kind of write and read an API user can make, all carrying its canary. */
  async function everyKindOfWork(app: TestApp, as: ReturnType<typeof roles>) {
    for (const code of LOCATIONS) {
      const canary = `CANARY${code}${randomUUID().replace(/-/g, "").slice(0, 12)}`;
      const tenant = await createTenant(app, { storageLocationCode: code, retentionPolicy: { deletionGraceDays: 1 } });
      const rowIds: string[] = [];
      tenants.set(code, { id: tenant.id, canary, rowIds });
      const admin = as.asTenantAdmin(tenant.id);
      const integration = as.asIntegration(tenant.id);
      const subject = (n: number) =>
        admin.gql(`mutation($input: RegisterDataSubjectInput!) { registerDataSubject(input: $input) { id } }`, {
          input: { tenantId: tenant.id, externalId: `${canary}-ext-${n}`, displayName: `${canary} Person ${n}` },
        });
      const kept = assertOk(await subject(1)).registerDataSubject.id;
      const deleted = assertOk(await subject(2)).registerDataSubject.id;
      const record = async (dataSubjectId: string, n: number) =>
        assertOk(
          await integration.gql(`mutation($input: RecordPersonalDataInput!) { recordPersonalData(input: $input) { id version } }`, {
            input: { tenantId: tenant.id, dataSubjectId, category: "CONTACT", purposes: ["SUPPORT"], value: { email: `${canary}-value-${n}@example.test` } },
          }),
        ).recordPersonalData;
      const [r1, r2] = [await record(kept, 1), await record(kept, 2), await record(deleted, 3), await record(kept, 4)];
      rowIds.push(kept, r1.id, r2.id);
      // A batch with an idempotency key: the key stays in the region too.
      assertOk(
        await integration.gql(`mutation($input: RecordPersonalDataBatchInput!) { recordPersonalDataBatch(input: $input) { count } }`, {
          input: {
            tenantId: tenant.id,
            idempotencyKey: `${canary}-batch`,
            records: [{ dataSubjectId: kept, category: "CONTACT", purposes: ["SUPPORT"], value: { email: `${canary}-batch@example.test` } }],
          },
        }),
      );
      const { agreement } = await consentedAgreement(app, tenant.id, { tenantContractReference: `${canary}-contract` });
      assertOk(
        await integration.gql(`mutation($input: ShareRecordsInput!) { shareRecords(input: $input) { id } }`, {
          input: { agreementId: agreement.id, recordIds: [r1.id, r2.id], purpose: "SUPPORT" },
        }),
      );
      // A correction and a deletion of shared records: notices for the recipient.
      assertOk(
        await integration.gql(`mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { id } }`, {
          input: { id: r1.id, expectedVersion: r1.version, value: { email: `${canary}-corrected@example.test` } },
        }),
      );
      assertOk(await admin.gql(`mutation($id: ID!) { deletePersonalData(id: $id) { id } }`, { id: r2.id }));
      assertOk(await admin.gql(`mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, { id: deleted }));
      // Reads: values for a purpose, the subject's export (both audited in the tenant's chain).
      assertOk(await as.asSubject(tenant.id, kept).gql(`query($id: ID!) { exportDataSubject(id: $id) { generatedAt } }`, { id: kept }));
      assertOk(
        await admin.gql(
          `query($id: ID!) { tenant(id: $id) { personalDataRecords(first: 10, filter: { status: ACTIVE }) { nodes { id value(purpose: SUPPORT) } } } }`,
          { id: tenant.id },
        ),
      );
    }
    // An incident that affects every tenant, declared: notifications in control, entries in each chain.
    const operator = app.as(principals.operator());
    await declaredIncident(
      app,
      [...tenants.values()].map((t) => t.id),
    );
    // The dashboard, across every region.
    assertOk(await operator.gql(`{ tenants(first: 10) { totalCount nodes { id personalDataRecords(first: 5) { nodes { id subject { id } } } } } }`));
    // Past the grace period: retention purges the deleted record and subject in their regions.
    app.clock.set(new Date(app.clock.now().getTime() + 3 * DAY));
    assertOk(await operator.gql(`mutation { runRetention { recordsPurged } }`));
  }

  after(async () => {
    await app?.close();
    await Promise.all([...clusters.values()].map((c) => c.destroy()));
  });

  it("finds each tenant's canaries in its own location's dump, and in no other dump or server log", async () => {
    const dumps = new Map<string, string>();
    for (const [name, cluster] of clusters) dumps.set(name, await cluster.dump("custodian"));
    const logs = new Map<string, string>();
    for (const [name, cluster] of clusters) logs.set(name, await cluster.log());
    for (const [code, { canary, rowIds }] of tenants) {
      for (const [name, dump] of dumps) {
        if (name === code) continue;
        assert.ok(!dump.includes(canary), `${code}'s canary is in ${name}'s dump`);
        assert.ok(!logs.get(name)!.includes(canary), `${code}'s canary is in ${name}'s server log`);
        for (const id of rowIds) assert.ok(!dump.includes(id), `${code}'s subject or record ${id} is in ${name}'s dump`);
      }
      // The probe finds what it looks for where it belongs: the subject's and records' rows (their
      // values and names are sealed, see the encryption tests), what stays plain (a contract
      // reference), and none of the sealed canaries.
      const own = dumps.get(code)!;
      for (const id of rowIds) assert.ok(own.includes(id), `${code}'s dump holds its subject's and records' rows`);
      assert.ok(own.includes(`${canary}-contract`), `${code}'s dump holds its contract reference`);
      for (const kind of ["-ext-1", " Person 1", "-value-4@", "-corrected@", "-batch@"])
        assert.ok(!own.includes(`${canary}${kind}`), `${code}'s ${kind.trim()} is sealed`);
    }
  });

  it("sends a tenant role's statements only to its own region and control", async () => {
    for (const [code, { id }] of tenants) {
      const allowed = new Set([clusters.get(code)!.port, clusters.get("CONTROL")!.port]);
      const { ports } = await serversUsed(async () => {
        for (const principal of [principals.tenantAdmin(id), principals.auditor(id)]) {
          assertOk(
            await app
              .as(principal)
              .gql(
                `query($id: ID!) { tenant(id: $id) { id storageLocation { code } personalDataRecords(first: 5) { nodes { id subject { id } } } complianceReport { activeRecords unacknowledgedBreachNotifications } } }`,
                { id },
              ),
          );
        }
        assertOk(
          await app.as(principals.tenantAdmin(id)).gql(`{ breachIncidents(first: 5) { nodes { id notifications { id } } } subprocessorList { version } }`),
        );
      });
      // The probe sees the region: the records are read there.
      assert.ok(ports.has(clusters.get(code)!.port), `${code}'s requests reached its region`);
      for (const port of ports) assert.ok(allowed.has(port), `${code}'s requests reached ${[...clusters.values()].find((c) => c.port === port)?.name}`);
    }
  });

  it("pages an operator through every region's tenants in one order, a cursor meaning the same in each", async () => {
    const operator = app.as(principals.operator());
    const all = assertOk(await operator.gql(`{ tenants(first: 50) { totalCount nodes { id createdAt storageLocation { code } } } }`)).tenants;
    assert.equal(all.totalCount, 4);
    // The page's order (creation time, then id; the test clock made them all at one instant) across four regions.
    type Row = { id: string; createdAt: string; storageLocation: { code: string } };
    const ordered = [...all.nodes].sort((a: Row, b: Row) => a.createdAt.localeCompare(b.createdAt) || (a.id < b.id ? -1 : 1));
    assert.deepEqual(all.nodes, ordered);
    assert.deepEqual(new Set(all.nodes.map((t: Row) => t.storageLocation.code)), new Set(LOCATIONS));
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: { edges: Array<{ cursor: string; node: { id: string } }>; pageInfo: { hasNextPage: boolean } } = assertOk(
        await operator.gql(`query($after: String) { tenants(first: 1, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage } } }`, { after }),
      ).tenants;
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.edges.at(-1)!.cursor;
    }
    assert.deepEqual(
      seen,
      all.nodes.map((t: { id: string }) => t.id),
    );
  });

  it("with one region's server down: its tenants get a retryable error naming it, the others work, lists say what is missing", async () => {
    const us = tenants.get("US")!;
    const eu = tenants.get("EU")!;
    const down = clusters.get("US")!;
    await down.stop();
    try {
      const refused = await app.as(principals.tenantAdmin(us.id)).gql(`query($id: ID!) { tenant(id: $id) { id } }`, { id: us.id });
      assert.equal(refused.errors?.[0].extensions.code, "INTERNAL_SERVER_ERROR", JSON.stringify(refused));
      assert.equal(refused.errors?.[0].extensions.retryable, true);
      assert.equal(refused.errors?.[0].extensions.storageLocation, "US");
      assert.match(refused.errors![0].message, /US storage location's database is unavailable/);
      // Another region's tenant is not affected, reads and writes.
      assertOk(
        await app.as(principals.tenantAdmin(eu.id)).gql(`query($id: ID!) { tenant(id: $id) { personalDataRecords(first: 5) { totalCount } } }`, { id: eu.id }),
      );
      assertOk(
        await app.as(principals.tenantAdmin(eu.id)).gql(`mutation($input: RegisterDataSubjectInput!) { registerDataSubject(input: $input) { id } }`, {
          input: { tenantId: eu.id, externalId: `during-outage-${randomUUID()}` },
        }),
      );
      // The operator's list: every other region's tenants, and one error naming US; never a 500.
      const list = await app.as(principals.operator()).gql(`{ tenants(first: 50) { totalCount nodes { id storageLocation { code } } } }`);
      const codes = (list.data?.tenants.nodes ?? []).map((t: { storageLocation: { code: string } }) => t.storageLocation.code).sort();
      assert.deepEqual(codes, ["APAC", "EU", "UK"], JSON.stringify(list));
      assert.deepEqual(
        list.errors?.map((e) => [e.extensions.storageLocation, e.extensions.retryable]),
        [["US", true]],
      );
      // Readiness names each database; control answers, so the process is ready.
      const ready = await fetch(app.server.url.replace(/\/graphql$/, "/readyz"));
      assert.equal(ready.status, 200);
      assert.deepEqual(((await ready.json()) as { databases: unknown }).databases, { control: "ok", EU: "ok", US: "unavailable", UK: "ok", APAC: "ok" });
    } finally {
      await down.start();
    }
    // Back: its first request succeeds.
    assertOk(await app.as(principals.tenantAdmin(us.id)).gql(`query($id: ID!) { tenant(id: $id) { id } }`, { id: us.id }));
    const list = await app.as(principals.operator()).gql(`{ tenants(first: 50) { totalCount } }`);
    assert.equal(list.errors, undefined);
    assert.equal(list.data?.tenants.totalCount, 4);
  });
});
