import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { processesNaming } from "../../bench/lib";
import { isRunning, runningServer } from "../../src/shared/db/embedded";
import { DEMO } from "../../src/demo";

/** @own-servers: every test here runs `npm start` or the API on an embedded PostgreSQL of its own. */

const MAIN = join(__dirname, "..", "..", "src", "main.js");

interface Started {
  child: ChildProcess;
  /** What the process wrote so far (stdout and stderr): for a failure's message. */
  output: () => string;
  url: string;
  tokens: Record<string, string>;
  exited: Promise<number | null>;
}

const ROOT = join(__dirname, "..", "..", "..");

/** The environment of a newcomer's `npm start`: no DATABASE_URL, the data in `dataDir`. */
function newcomerEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, EMBEDDED_PG_DIR: dataDir, PORT: "0", LOG_LEVEL: "warn" };
  delete env.DATABASE_URL;
  delete env.TEST_CLOCK;
  return env;
}

/**
 * The API as a newcomer starts it: by default the compiled entry point (npm start's build already
 * ran); `viaNpm` runs `npm start` itself, so the process to signal is npm's, as a supervisor holds it.
 */
async function start(dataDir: string, options: { viaNpm?: boolean; env?: Record<string, string> } = {}): Promise<Started> {
  const env = { ...newcomerEnv(dataDir), ...options.env };
  const [command, args] = options.viaNpm ? [process.execPath, [npmCli(), "start"]] : [process.execPath, [MAIN]];
  const child = spawn(command, args, { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((ok) => child.on("exit", (code) => ok(code)));
  let out = "";
  child.stderr!.on("data", (c) => (out += c));
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no start within 60 s:\n${out}`)), 60_000);
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      if (/Try: curl/.test(out)) {
        clearTimeout(timer);
        ok();
      }
    });
    void exited.then((code) => fail(new Error(`exited with ${code}:\n${out}`)));
  });
  const url = /Custodian GraphQL API: (\S+)/.exec(out)![1];
  const tokens = Object.fromEntries([...out.matchAll(/^ {2}([A-Z_]+) +(ey\S+)$/gm)].map((m) => [m[1], m[2]]));
  return { child, url, tokens, exited, output: () => out };
}

/** npm's own entry point: the one that ran this test suite, or the machine's. */
function npmCli(): string {
  const known = process.env.npm_execpath;
  if (known && /npm-cli\.js$/.test(known)) return known;
  return join(dirname(dirname(process.execPath)), "lib", "node_modules", "npm", "bin", "npm-cli.js");
}

async function gql(url: string, token: string, query: string, variables?: Record<string, unknown>): Promise<any> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

/**
 * A fresh directory per test of the calling suite, made as a checkout would be (the postgres user
 * can enter it) and removed after the suite.
 */
function scratchDirectories(prefix: string): () => Promise<string> {
  const made: string[] = [];
  after(async () => {
    for (const dir of made) await rm(dir, { recursive: true, force: true });
  });
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), `custodian-${prefix}-`));
    await chmod(dir, 0o755);
    made.push(dir);
    return dir;
  };
}

describe("npm start on an embedded PostgreSQL", () => {
  const scratch = scratchDirectories("start");

  it("serves with demo data and a token per role, keeps data across restarts, and leaves no postgres behind", async () => {
    const dir = await scratch();
    const dataDir = join(dir, ".data", "postgres");

    const first = await start(dataDir);
    assert.deepEqual(Object.keys(first.tokens).sort(), ["AUDITOR", "DATA_SUBJECT", "INTEGRATION", "OPERATOR", "PARTNER", "TENANT_ADMIN"]);
    assert.deepEqual(await gql(first.url, first.tokens.OPERATOR, "{ viewer { role } }"), { data: { viewer: { role: "OPERATOR" } } });
    const demo = await gql(first.url, first.tokens.OPERATOR, "{ tenants { totalCount } }");
    assert.equal(demo.data.tenants.totalCount, 2, "two demo tenants");
    // The printed data-subject token reads its own demo data at once.
    const mine = await gql(
      first.url,
      first.tokens.DATA_SUBJECT,
      `query($id: ID!) { dataSubject(id: $id) { displayName records { nodes { category value(purpose: SUBJECT_ACCESS) } } } }`,
      { id: DEMO.dataSubjectId },
    );
    assert.equal(mine.data.dataSubject.records.nodes.length, 3);
    assert.deepEqual(mine.data.dataSubject.records.nodes[0], { category: "CONTACT", value: { email: "ada@contoso.example" } });
    const registry = await gql(
      first.url,
      first.tokens.PARTNER,
      `{ thirdParties { name role dataSharingProhibited } subprocessorList { version entries { name } } }`,
    );
    assert.deepEqual(
      registry.data.thirdParties.map((p: any) => p.name),
      ["Apple", "Contoso On-Premises Connector", "Google", "Jamf", "Northwind Support Desk"],
    );
    assert.deepEqual(registry.data.subprocessorList, { version: 1, entries: [{ name: "Northwind Support Desk" }] });
    const created = await gql(first.url, first.tokens.OPERATOR, `mutation { createTenant(input: { name: "Kept", storageLocationCode: "UK" }) { id } }`);
    const keptId = created.data.createTenant.id;
    assert.ok(processesNaming(dataDir).length > 0, "the embedded server runs");

    first.child.kill("SIGINT");
    assert.equal(await first.exited, 0);
    assert.deepEqual(processesNaming(dataDir), [], "no postgres process remains after Ctrl-C");

    const second = await start(dataDir);
    const again = await gql(second.url, second.tokens.OPERATOR, `{ tenants { totalCount } tenant(id: "${keptId}") { name } }`);
    assert.equal(again.data.tenant.name, "Kept", "the data survived the restart");
    assert.equal(again.data.tenants.totalCount, 3, "the demo is not seeded twice");
    second.child.kill("SIGTERM");
    assert.equal(await second.exited, 0);
    assert.deepEqual(processesNaming(dataDir), [], "no postgres process remains after SIGTERM");
  });
});

/** The pid and port of the server running on a data directory (one must be running). */
async function postmaster(dataDir: string): Promise<{ pid: number; port: number }> {
  const server = await runningServer(dataDir);
  assert.ok(server, `no server runs on ${dataDir}`);
  return server;
}

/** Processes whose environment names `dataDir` as theirs: npm, its shell and the API it started. */
function processesStartedFor(dataDir: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`EMBEDDED_PG_DIR=${dataDir}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((ok) => setTimeout(ok, 100))) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/** `npm run retention` as its compiled script, on the newcomer's embedded data: ends well, or fails with what it wrote. */
async function retention(dataDir: string): Promise<void> {
  const child = spawn(process.execPath, [join(ROOT, "dist", "scripts", "retention.js")], { env: newcomerEnv(dataDir), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (out += c));
  const code = await new Promise<number | null>((ok) => child.on("exit", ok));
  assert.equal(code, 0, `npm run retention exited with ${code}; it wrote:\n${out.slice(-3000)}`);
}

const answers = async (url: string, token: string) => (await gql(url, token, "{ tenants { totalCount } }")).data?.tenants.totalCount > 0;

describe("the processes around the embedded PostgreSQL", () => {
  let dir: string;
  // Before the directories go (hooks run in the order they are added): whatever a failed test left running there.
  after(() => {
    for (const pid of processesNaming(dir)) process.kill(pid, "SIGKILL");
  });
  const scratch = scratchDirectories("processes");
  before(async () => {
    dir = await scratch();
  });

  it("npm start: SIGTERM to npm's own process drains and stops the API and its PostgreSQL, leaving nothing behind", async () => {
    const dataDir = join(dir, "signals", "postgres");
    const api = await start(dataDir, { viaNpm: true });
    assert.ok(await answers(api.url, api.tokens.OPERATOR));
    const server = await postmaster(dataDir);
    api.child.kill("SIGTERM");
    await api.exited;
    await assert.rejects(fetch(api.url), "nothing listens on the API's port");
    assert.deepEqual(processesNaming(dataDir), [], "no postgres process remains");
    assert.equal(isRunning(server.pid), false);
    assert.equal(existsSync(join(dataDir, "postmaster.pid")), false, "no postmaster.pid is left");
    assert.deepEqual(processesStartedFor(dataDir), [], "no API process remains (nor npm's)");
  });

  it("a second command beside a running API uses its server and leaves it running; after the API is killed, the next one takes the server over", async () => {
    const dataDir = join(dir, "second", "postgres");
    const api = await start(dataDir);
    const server = await postmaster(dataDir);
    await retention(dataDir);
    assert.ok(isRunning(server.pid), "the API's server still runs");
    assert.ok(await answers(api.url, api.tokens.OPERATOR), "and the API still answers");
    // The crash drills' case: the owner is gone, its server is left behind.
    api.child.kill("SIGKILL");
    await api.exited;
    assert.ok(isRunning(server.pid), "the probe: the server outlived its owner");
    await retention(dataDir);
    assert.equal(isRunning(server.pid), false, "taken over: stopped before a server of its own ran");
    assert.deepEqual(processesNaming(dataDir), [], "and that one stopped when the command ended");
  });

  it("restarts its PostgreSQL when it dies under the API; liveness fails once it cannot", async () => {
    const dataDir = join(dir, "restart", "postgres");
    const api = await start(dataDir);
    const health = async () => (await fetch(new URL("/healthz", api.url))).status;
    try {
      const first = await postmaster(dataDir);
      process.kill(first.pid, "SIGKILL");
      await until("answers again", () => answers(api.url, api.tokens.OPERATOR), 60_000).catch((error: Error) => {
        throw new Error(`${error.message}; the API wrote:\n${api.output().slice(-3000)}`);
      });
      assert.equal(await health(), 200);
      // Killed again, with its port taken meanwhile: it cannot come back.
      const second = await postmaster(dataDir);
      assert.notEqual(second.pid, first.pid);
      process.kill(second.pid, "SIGKILL");
      await until("the old server is gone", async () => !isRunning(second.pid));
      const blocker = createServer().listen(second.port, "127.0.0.1");
      try {
        // After the restart's patience (30 s) runs out.
        await until("liveness fails", async () => (await health()) === 503, 60_000);
      } finally {
        blocker.close();
      }
    } finally {
      api.child.kill("SIGKILL");
      await api.exited;
    }
  });
});

/** The README's "A first query" examples: each curl's body and the token it names. */
function readmeExamples(): Array<{ role: string; body: string }> {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## A first query"), readme.indexOf("\n## ", readme.indexOf("## A first query") + 1));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map(([, block]) => {
    const role = /^TOKEN=<the ([A-Z_]+) token>$/m.exec(block)?.[1];
    const body = /-d '(.*)'$/m.exec(block)?.[1];
    assert.ok(role && body, `an example without its token or body:\n${block}`);
    return { role, body };
  });
}

describe("the README's first queries", () => {
  const scratch = scratchDirectories("readme");

  it("each answers, with the token it names, what the README says it shows", async () => {
    const dir = await scratch();
    const api = await start(join(dir, ".data", "postgres"));
    try {
      const examples = readmeExamples();
      // What each shows, in the README's order; an example added without its check fails here.
      const shows: Array<(data: any) => void> = [
        (data) => {
          assert.equal(data.viewer.role, "OPERATOR");
          assert.equal(data.tenants.totalCount, 2);
          assert.ok(data.storageLocations.length >= 4);
        },
        (data) => {
          assert.equal(data.dataSubject.displayName, "Ada Demo");
          assert.deepEqual(data.dataSubject.records.nodes[0].value, { email: "ada@contoso.example" });
        },
        (data) => {
          const values = data.tenant.personalDataRecords.nodes.map((r: any) => r.value);
          assert.deepEqual(values, [{ email: "ada@contoso.example" }, { email: "bram@contoso.example" }]);
        },
        (data) => {
          assert.ok(
            data.tenant.auditLog.nodes.some((e: any) => e.purpose === "SUPPORT" && e.outcome === "ALLOWED"),
            "the SUPPORT reads are in the log",
          );
          assert.equal(data.verifyAuditLog.valid, true);
        },
      ];
      assert.equal(examples.length, shows.length);
      for (const [i, { role, body }] of examples.entries()) {
        const token = api.tokens[role];
        assert.ok(token, `npm start printed no ${role} token`);
        // The curl as written, to this server's port.
        const response = await fetch(api.url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body });
        const answer = (await response.json()) as { data?: unknown; errors?: unknown };
        assert.equal(answer.errors, undefined, `example ${i + 1}: ${JSON.stringify(answer.errors)}`);
        shows[i](answer.data);
      }
    } finally {
      api.child.kill("SIGTERM");
      await api.exited;
    }
  });
});

/** An OTLP/HTTP collector on loopback: every span it was sent, as OTLP JSON. */
async function collector(): Promise<{ url: string; spans: () => any[]; raw: () => string; close(): Promise<void> }> {
  const bodies: string[] = [];
  const server = createHttpServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      bodies.push(body);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    raw: () => bodies.join("\n"),
    spans: () => bodies.flatMap((b) => (JSON.parse(b).resourceSpans ?? []).flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans))),
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

describe("tracing (OTEL_* variables)", () => {
  const scratch = scratchDirectories("tracing");

  it("sends HTTP, GraphQL and SQL spans, nested, with no variable, token or personal data in them", async () => {
    const dir = await scratch();
    const otlp = await collector();
    const api = await start(join(dir, ".data", "postgres"), {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: "50", OTEL_SERVICE_NAME: "custodian-test" },
    });
    let answer = "";
    try {
      const token = api.tokens.DATA_SUBJECT;
      const response = await fetch(api.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({
          query: "query Mine($id: ID!) { dataSubject(id: $id) { displayName records { nodes { value(purpose: SUBJECT_ACCESS) } } } }",
          variables: { id: DEMO.dataSubjectId },
        }),
      });
      answer = await response.text();
      const graphql = await until("the operation's span arrives", async () => otlp.spans().find((s) => s.name === "graphql query"));
      const spans = otlp.spans();
      const http = spans.find((s) => s.spanId === graphql.parentSpanId);
      assert.ok(http, "the operation's parent is a span we were sent");
      assert.equal(http.kind, 2, "the HTTP server span");
      const sql = spans.filter((s) => s.parentSpanId === graphql.spanId && s.name.startsWith("pg.query"));
      assert.ok(sql.length >= 1, "statements are the operation's children");
      assert.ok(
        sql.some((s) => s.attributes.some((a: any) => /^db\.(statement|query\.text)$/.test(a.key) && /data_subject/.test(a.value.stringValue))),
        "with their SQL text",
      );
      // The probe: what must not be in the spans is in the answer and the request.
      for (const secret of ["Ada Demo", "ada@contoso.example"]) assert.ok(answer.includes(secret), `the probe misses ${secret}`);
      for (const secret of ["Ada Demo", "ada@contoso.example", DEMO.dataSubjectId, token, token.split(".")[2]]) {
        assert.ok(!otlp.raw().includes(secret), `a span holds ${secret.slice(0, 12)}…`);
      }
    } finally {
      api.child.kill("SIGTERM");
      await api.exited;
      await otlp.close();
    }
  });
});
