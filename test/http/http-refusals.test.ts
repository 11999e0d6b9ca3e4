import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { VARIABLE_LIMITS } from "../../src/shared/graphql/variable-limits";
import { currentMemory, defaultMemoryLimitBytes, memoryExhausted } from "../../src/shared/memory-guard";
import { type TestApp, principals, startTestApp } from "../helpers/app";
import { createTenant, registerSubject } from "../helpers/factories";

interface HttpAnswer {
  status: number;
  contentType: string;
  headers: Headers;
  text: string;
  body: { data?: unknown; errors?: Array<{ message: string; extensions: Record<string, unknown> }> } | null;
}

/**
 * Posts a raw body on a connection of its own (a refused body's connection is closed by the
 * server: a pooled one would carry the next request into that close); the answer is always read
 * as text first, so an HTML page cannot pass as JSON.
 */
function postRaw(url: string, body: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((ok, fail) => {
    const sent = { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...headers };
    const req = request(url, { method: "POST", headers: sent, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("error", fail);
      res.on("end", () => {
        let parsed: HttpAnswer["body"] = null;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = null;
        }
        const answerHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers))
          if (value !== undefined) answerHeaders.set(name, Array.isArray(value) ? value.join(", ") : value);
        ok({ status: res.statusCode ?? 0, contentType: res.headers["content-type"] ?? "", headers: answerHeaders, text, body: parsed });
      });
    });
    // The server may answer and close before the whole body is written (a refused body): the
    // answer counts, not the write; without an answer, the write's error is the request's.
    let writeError: Error | null = null;
    let answered = false;
    req.on("response", () => (answered = true));
    req.on("error", (error) => (writeError ??= error));
    req.on("close", () => {
      if (!answered) fail(writeError ?? new Error("the connection closed without an answer"));
    });
    req.end(body);
  });
}

/** A JSON text of `levels` arrays around a string, built as text: JSON.stringify itself overflows at such depths. */
const deepArrayText = (levels: number) => `${"[".repeat(levels)}"x"${"]".repeat(levels)}`;
const deepObjectText = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

/** The refusal every client mistake must be: a 4xx, JSON, one contract code, no stack and no HTML. */
function assertRefused(answer: HttpAnswer, status: number, code: string, label: string): string {
  assert.equal(answer.status, status, `${label}: HTTP ${answer.status} ${answer.text.slice(0, 300)}`);
  assert.match(answer.contentType, /^application\/json/, `${label}: ${answer.contentType}`);
  assert.ok(answer.body?.errors?.length, `${label}: ${answer.text.slice(0, 300)}`);
  for (const error of answer.body.errors) assert.equal(error.extensions.code, code, `${label}: ${JSON.stringify(error)}`);
  assert.doesNotMatch(answer.text, /<html|<pre>|\n\s+at |node_modules|\.js:\d+/i, `${label} shows a page or a stack`);
  return answer.body.errors[0].message;
}

describe("client mistakes over HTTP: a 4xx with the contract's code, never a 500", () => {
  let app: TestApp;
  let operator: string;
  let tenant: { id: string };
  let subjectId: string;
  before(async () => {
    // Development mode: Express's own error page would show a stack here.
    app = await startTestApp({ config: { bodyLimitBytes: 8 * 1024 * 1024 } });
    operator = await app.token(principals.operator());
    tenant = await createTenant(app);
    subjectId = (await registerSubject(app, tenant.id)).id;
  });
  after(() => app.close());

  const asOperator = (payload: unknown) => postRaw(app.server.url, JSON.stringify(payload), { authorization: `Bearer ${operator}` });

  it("answers a cost refusal and a NUL refusal with 400, as the depth and alias limits are", async () => {
    const heavy = `{ tenants(first: 500) { nodes { id dataSubjects(first: 500) { nodes { id } } } } }`;
    assert.match(assertRefused(await asOperator({ query: heavy }), 400, "QUERY_TOO_COMPLEX", "cost"), /cost limit of 10000/);
    const nul = await asOperator({ query: `query($id: ID!) { tenant(id: $id) { id } }`, variables: { id: "a\u0000b" } });
    assertRefused(nul, 400, "BAD_USER_INPUT", "NUL");
    const deep = `{ tenants { nodes { personalDataRecords { nodes { subject { tenant { personalDataRecords { nodes { subject { tenant { id } } } } } } } } } } }`;
    assertRefused(await asOperator({ query: deep }), 400, "QUERY_TOO_COMPLEX", "depth");
  });

  it("refuses an operation whose cost cannot be computed instead of running it", async () => {
    const bypass = `query Q($s: Boolean = false) { viewer @skip(if: $s) { role } tenants(first: 500) { nodes { id dataSubjects(first: 500) { nodes { id } } } } }`;
    const answer = await asOperator({ query: bypass, variables: { s: null } });
    assertRefused(answer, 400, "BAD_USER_INPUT", "a null directive argument");
    assert.equal(answer.body?.data, undefined, "nothing ran");
    // The same document with a usable value is costed, and refused for its cost.
    assertRefused(await asOperator({ query: bypass, variables: { s: false } }), 400, "QUERY_TOO_COMPLEX", "costed");
  });

  it("refuses deeply nested variables and record values with BAD_USER_INPUT naming the field, never a stack overflow", async () => {
    const unused = `{"query":"{ __typename }","variables":{"d":${deepArrayText(10_000)}}}`;
    assertRefused(await postRaw(app.server.url, unused), 413, "BAD_USER_INPUT", "anonymous, 10,000 levels");
    const refused = await postRaw(app.server.url, unused, { authorization: `Bearer ${operator}` });
    assertRefused(refused, 400, "BAD_USER_INPUT", "authenticated, 10,000 levels");
    assert.equal(refused.body?.errors?.[0].extensions.field, "variables");

    const integration = await app.token(principals.integration(tenant.id));
    const record = (levels: number) =>
      postRaw(
        app.server.url,
        `{"query":"mutation($i: RecordPersonalDataInput!) { recordPersonalData(input: $i) { id } }","variables":{"i":{"tenantId":"${tenant.id}","dataSubjectId":"${subjectId}","category":"DEVICE","purposes":["SUPPORT"],"value":${deepObjectText(levels)}}}}`,
        { authorization: `Bearer ${integration}` },
      );
    const before = (await app.db.query(`SELECT count(*)::int AS n FROM personal_data_record WHERE tenant_id = $1`, [tenant.id]))[0].n;
    const huge = await record(4_150);
    assertRefused(huge, 400, "BAD_USER_INPUT", "a value 4,150 levels deep");
    assert.equal(huge.body?.errors?.[0].extensions.field, "i");
    const over = await record(33);
    assert.equal(over.body?.errors?.[0].extensions.code, "BAD_USER_INPUT", over.text);
    assert.equal(over.body?.errors?.[0].extensions.field, "value");
    assert.match(over.body!.errors![0].message, /at most 32 levels/);
    const within = await record(32);
    assert.equal(within.body?.errors, undefined, within.text);
    assert.equal(
      (await app.db.query(`SELECT count(*)::int AS n FROM personal_data_record WHERE tenant_id = $1`, [tenant.id]))[0].n,
      before + 1,
      "only the value within the limit was written",
    );
  });

  it("bounds the variables before walking them: too many are refused, and an anonymous body is small", async () => {
    const many = Object.fromEntries(Array.from({ length: 450_000 }, (_, i) => [`k${i}`, 1]));
    const body = JSON.stringify({ query: "{ __typename }", variables: many });
    const tooLarge = await postRaw(app.server.url, body);
    assertRefused(tooLarge, 413, "BAD_USER_INPUT", "anonymous, 450,000 variables");
    assert.equal(tooLarge.headers.get("connection"), "close", "a body refused unread closes its connection");
    const counted = await postRaw(app.server.url, body, { authorization: `Bearer ${operator}` });
    assert.match(assertRefused(counted, 400, "BAD_USER_INPUT", "authenticated, 450,000 variables"), new RegExp(`at most ${VARIABLE_LIMITS.count} variables`));
    const atLimit = Object.fromEntries(Array.from({ length: VARIABLE_LIMITS.count }, (_, i) => [`k${i}`, 1]));
    assert.equal((await asOperator({ query: "{ __typename }", variables: atLimit })).status, 200);
    assert.equal((await postRaw(app.server.url, JSON.stringify({ query: "{ __typename }" }))).status, 200, "a small anonymous request is served");
  });

  it("answers bodies it cannot read, and paths it does not serve, as JSON with a code", async () => {
    const query = JSON.stringify({ query: "{ __typename }" });
    const latin1 = await postRaw(app.server.url, query, { "content-type": "application/json; charset=latin1" });
    assertRefused(latin1, 415, "BAD_USER_INPUT", "charset latin1");
    assertRefused(await postRaw(app.server.url, query, { "content-encoding": "compress" }), 415, "BAD_USER_INPUT", "content-encoding compress");
    assertRefused(await postRaw(app.server.url, "{not json"), 400, "BAD_USER_INPUT", "broken JSON");
    const missing = await fetch(app.server.url.replace(/\/graphql$/, "/nothing/here"));
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(await missing.text()).errors[0].extensions.code, "NOT_FOUND");
  });

  it("says where a document fails to parse, keeps the stage in extensions, and never repeats a string it holds", async () => {
    const eof = await postRaw(app.server.url, JSON.stringify({ query: "{" }));
    assert.equal(assertRefused(eof, 400, "BAD_USER_INPUT", "syntax"), "Syntax error at line 1, column 2: Expected Name, found <EOF>.");
    assert.equal(eof.body?.errors?.[0].extensions.reason, "GRAPHQL_PARSE_FAILED");
    const stringToken = await postRaw(app.server.url, JSON.stringify({ query: `{ tenant(id: "a" "SECRET-PERSONAL") { id } }` }));
    assert.equal(assertRefused(stringToken, 400, "BAD_USER_INPUT", "string token"), "Syntax error at line 1, column 18: Expected Name, found String.");
    const invalid = await asOperator({ query: "{ nosuchfield }" });
    assertRefused(invalid, 400, "BAD_USER_INPUT", "validation");
    assert.equal(invalid.body?.errors?.[0].extensions.reason, "GRAPHQL_VALIDATION_FAILED");
  });

  it("answers UNAUTHENTICATED with 401 and WWW-Authenticate, for a missing token and a refused one alike", async () => {
    const missing = await postRaw(app.server.url, JSON.stringify({ query: "{ viewer { role } }" }));
    assertRefused(missing, 401, "UNAUTHENTICATED", "no token");
    assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="custodian"');
    const partly = await postRaw(app.server.url, JSON.stringify({ query: `{ __typename tenant(id: "${tenant.id}") { id } }` }));
    assert.equal(partly.status, 401, partly.text);
    assert.equal(partly.headers.get("www-authenticate"), 'Bearer realm="custodian"');
    const refused = await postRaw(app.server.url, JSON.stringify({ query: "{ viewer { role } }" }), { authorization: "Bearer not.a.token" });
    assertRefused(refused, 401, "UNAUTHENTICATED", "bad token");
    assert.equal(refused.headers.get("www-authenticate"), 'Bearer realm="custodian", error="invalid_token"');
    assert.equal((await postRaw(app.server.url, JSON.stringify({ query: "{ __typename }" }))).status, 200, "what needs no token answers 200");
  });
});

describe("suggestions in production", () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ production: true });
  });
  after(() => app.close());

  it("are in no message, for anonymous and authenticated callers, with no stray remnant", async () => {
    const admin = await app.token(principals.tenantAdmin((await createTenant(app)).id));
    const probes = [
      `{ personalDataRecord(id: "7e4a0000-0000-4000-8000-0000000000a1") { value(purpose: SUPORT) } }`,
      `{ viewr { role } }`,
      `{ tenants(frist: 1) { totalCount } }`,
      `query($p: ProcessingPurpos) { viewer { role } }`,
    ];
    for (const query of probes) {
      for (const headers of [{}, { authorization: `Bearer ${admin}` }] as Array<Record<string, string>>) {
        const answer = await postRaw(app.server.url, JSON.stringify({ query }), headers);
        assert.equal(answer.status, 400, answer.text);
        for (const error of answer.body?.errors ?? []) {
          assert.doesNotMatch(error.message, /did you mean|suggestion|\?$/i, `${query}: ${error.message}`);
          assert.match(error.message, /\.$/, `${query}: ${error.message}`);
        }
      }
    }
  });

  it("are still given in development, where they help (the probe finds them)", async () => {
    const dev = await startTestApp();
    try {
      const answer = await postRaw(dev.server.url, JSON.stringify({ query: `{ viewr { role } }` }));
      assert.match(answer.body!.errors![0].message, /Did you mean "viewer"\?/);
    } finally {
      await dev.close();
    }
  });
});

describe("memory guard", () => {
  it("refuses new work at its limit, by what the process holds in and outside its heap (pure)", () => {
    assert.equal(memoryExhausted({ usedBytes: 99 }, 100), false);
    assert.equal(memoryExhausted({ usedBytes: 100 }, 100), true);
    assert.ok(currentMemory().usedBytes > 0);
    assert.ok(defaultMemoryLimitBytes() > 256 * 1024 * 1024, "three quarters of the heap limit");
  });

  it("answers 503 RATE_LIMITED with Retry-After before reading the body while the process is past its limit, and serves again below it", async () => {
    // A limit the process is already past: every request is refused; the probe beside it is not.
    const low = await startTestApp({ config: { memoryLimitBytes: 1 } });
    const high = await startTestApp({ config: { memoryLimitBytes: Number.MAX_SAFE_INTEGER } });
    try {
      for (const app of [low, high]) {
        const token = await app.token(principals.operator());
        const answer = await postRaw(app.server.url, JSON.stringify({ query: "{ viewer { role } }" }), { authorization: `Bearer ${token}` });
        if (app === low) {
          assertRefused(answer, 503, "RATE_LIMITED", "past the limit");
          assert.equal(answer.headers.get("retry-after"), "5");
        } else {
          assert.equal(answer.status, 200, answer.text);
        }
      }
      assert.equal((await fetch(low.server.url.replace("/graphql", "/healthz"))).status, 200, "liveness still answers");
    } finally {
      await low.close();
      await high.close();
    }
  });
});
