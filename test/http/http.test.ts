import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type TestApp, principals, startTestApp, TEST_MASTER_KEY } from "../helpers/app";
import { suiteDatabaseUrl } from "../helpers/suite-db";
import { CuttableProxy } from "../helpers/proxy";
import { LocalKeyProvider } from "../../src/modules/keys/envelope";
import { keystoreLocation } from "../../src/modules/keys/key-config";
import { KeyRing } from "../../src/modules/keys/key-ring";
import { regionUrlOf } from "../../src/shared/db/topology";
import { assertOk } from "../helpers/assertions";
import { createTenant, recordData, registerSubject } from "../helpers/factories";

describe("HTTP surface", () => {
  let app: TestApp;
  let operatorToken: string;
  before(async () => {
    app = await startTestApp();
    operatorToken = await app.token(principals.operator());
  });
  after(() => app.close());

  const base = () => app.server.url.replace(/\/graphql$/, "");
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(app.server.url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${operatorToken}`, ...headers }, body });

  it("GET /healthz is 200 while the process is up; GET /readyz is 200 while the database answers", async () => {
    assert.equal((await fetch(`${base()}/healthz`)).status, 200);
    assert.equal((await fetch(`${base()}/readyz`)).status, 200);
  });

  it("keeps Apollo's CSRF prevention on: a simple GET query without a preflight header is refused", async () => {
    const response = await fetch(`${app.server.url}?query=${encodeURIComponent("{ viewer { role } }")}`, {
      headers: { authorization: `Bearer ${operatorToken}` },
    });
    assert.equal(response.status, 400);
    const allowed = await fetch(`${app.server.url}?query=${encodeURIComponent("{ viewer { role } }")}`, {
      headers: { authorization: `Bearer ${operatorToken}`, "apollo-require-preflight": "true" },
    });
    assert.equal(allowed.status, 200);
  });

  it("refuses batched requests and bodies over the limit, with a clear message", async () => {
    const batched = await post(JSON.stringify([{ query: "{ viewer { role } }" }, { query: "{ viewer { role } }" }]));
    assert.equal(batched.status, 400);
    const tooLarge = await post(JSON.stringify({ query: "{ viewer { role } }", variables: { padding: "x".repeat(70 * 1024) } }));
    assert.equal(tooLarge.status, 413);
    const body = (await tooLarge.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    assert.match(body.errors[0].message, /larger than 65536 bytes/);
  });

  it("tags each request with a request id, echoing a caller's well-formed one", async () => {
    const response = await post(JSON.stringify({ query: "{ viewer { role } }" }), { "x-request-id": "trace-abc-123" });
    assert.equal(response.headers.get("x-request-id"), "trace-abc-123");
    assert.ok(app.logs.some((line) => line.includes('"trace-abc-123"')));
  });

  it("never writes a token, a variable or a query string into a log line", async () => {
    const marker = "PERSONAL-DATA-MARKER-7f3a";
    await post(
      JSON.stringify({ query: 'mutation($n: String!) { createTenant(input: { name: $n, storageLocationCode: "EU" }) { id } }', variables: { n: marker } }),
    );
    await post(JSON.stringify({ query: "query($n: Int) { tenants(first: $n) { totalCount } }", variables: { n: marker } }));
    await fetch(`${app.server.url}?query=${encodeURIComponent(`{ tenant(id: "${marker}") { id } }`)}`, { headers: { "apollo-require-preflight": "true" } });
    const logs = app.logs.join("\n");
    assert.ok(!logs.includes(marker), "no value in the logs");
    assert.ok(!logs.includes(operatorToken), "no token in the logs");
  });
});

describe("the database going away and coming back", () => {
  let proxy: CuttableProxy;
  let app: TestApp;
  before(async () => {
    const url = new URL(await suiteDatabaseUrl());
    proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port || 5432) });
    await proxy.open();
    url.hostname = "127.0.0.1";
    url.port = String(proxy.port);
    app = await startTestApp({ databaseUrl: url.toString(), poolSize: 3 });
  });
  after(async () => {
    await app.close();
    await proxy.cut().catch(() => undefined);
  });

  it("fails requests with a clear error and /readyz 503 meanwhile, and the first request after it returns succeeds", async () => {
    const query = `{ storageLocations { code } }`;
    const operator = app.as(principals.operator());
    assert.equal((await operator.gql(query)).errors, undefined);

    await proxy.cut();
    const during = await operator.gql(query);
    assert.equal(during.errors?.[0].extensions.code, "INTERNAL_SERVER_ERROR");
    assert.match(during.errors![0].message, /database is unavailable/);
    const ready = await fetch(app.server.url.replace(/\/graphql$/, "/readyz"));
    assert.equal(ready.status, 503);

    await proxy.open();
    assert.deepEqual((await operator.gql(query)).errors, undefined, "the first request after the database returns succeeds");
    assert.equal((await fetch(app.server.url.replace(/\/graphql$/, "/readyz"))).status, 200);
  });
});

describe("a region's key store going away and coming back", () => {
  let proxy: CuttableProxy;
  let app: TestApp;
  let reader: TestApp;
  before(async () => {
    app = await startTestApp();
    // The EU key store behind a proxy, for an instance that has no key cached yet.
    const keys = new URL(keystoreLocation({ production: false }, "EU", regionUrlOf({ controlUrl: await suiteDatabaseUrl() }, "EU")).url);
    proxy = new CuttableProxy({ host: keys.hostname, port: Number(keys.port || 5432) });
    await proxy.open();
    keys.hostname = "127.0.0.1";
    keys.port = String(proxy.port);
    reader = await startTestApp({ keystore: { urls: { EU: keys.toString() }, production: false }, keys: new KeyRing(new LocalKeyProvider(TEST_MASTER_KEY)) });
  });
  after(async () => {
    await reader?.close();
    await app?.close();
    await proxy?.cut().catch(() => undefined);
  });

  it("fails sealed fields and writes with a retryable error naming the location, serves the rest, reports it in /readyz, and recovers", async () => {
    const tenant = await createTenant(app);
    const externalId = `ext-${randomUUID()}`;
    const subject = await registerSubject(app, tenant.id, externalId);
    const record = await recordData(app, tenant.id, subject.id);
    const admin = reader.as(principals.tenantAdmin(tenant.id));
    const READ = `query($id: ID!) { personalDataRecord(id: $id) { id value(purpose: SUPPORT) subject { externalId } } }`;
    const LIST = `query($id: ID!) { tenant(id: $id) { personalDataRecords(first: 5) { totalCount nodes { id } } } }`;
    const WRITE = `mutation($input: RecordPersonalDataInput!) { recordPersonalData(input: $input) { id } }`;
    const input = { tenantId: tenant.id, dataSubjectId: subject.id, category: "CONTACT", purposes: ["SUPPORT"], value: { email: "new@example.test" } };
    const readyz = async () =>
      (await (await fetch(reader.server.url.replace(/\/graphql$/, "/readyz"))).json()) as {
        status: string;
        databases: Record<string, string>;
        keyStores: Record<string, string>;
      };

    await proxy.cut();
    const during = await admin.gql(READ, { id: record.id });
    assert.ok(during.errors?.length);
    for (const error of during.errors!) {
      assert.deepEqual([error.extensions.retryable, error.extensions.storageLocation], [true, "EU"]);
      assert.match(error.message, /EU storage location's key store is unavailable/);
    }
    const listed = assertOk(await admin.gql(LIST, { id: tenant.id })).tenant.personalDataRecords;
    assert.deepEqual(listed, { totalCount: 1, nodes: [{ id: record.id }] }, "what needs no key is served");
    const refused = await reader.as(principals.integration(tenant.id)).gql(WRITE, { input });
    assert.equal(refused.errors?.[0].extensions.retryable, true);
    assert.equal(assertOk(await admin.gql(LIST, { id: tenant.id })).tenant.personalDataRecords.totalCount, 1, "nothing was written");
    const ready = await readyz();
    assert.deepEqual([ready.status, ready.databases.EU, ready.keyStores.EU, ready.keyStores.US], ["ready", "ok", "unavailable", "ok"]);

    await proxy.open();
    const after = assertOk(await admin.gql(READ, { id: record.id })).personalDataRecord;
    assert.deepEqual(after, { id: record.id, value: { email: "person@example.test" }, subject: { externalId } });
    assert.equal((await readyz()).keyStores.EU, "ok");
  });
});
