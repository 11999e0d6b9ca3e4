import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type TestApp, principals, startTestApp } from "../helpers/app";
import { suiteDatabaseUrl } from "../helpers/suite-db";
import { CuttableProxy } from "../helpers/proxy";

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
