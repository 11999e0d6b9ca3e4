import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { processesNaming } from "../../bench/lib";
import { DEMO } from "../../src/demo";

const MAIN = join(__dirname, "..", "..", "src", "main.js");

interface Started {
  child: ChildProcess;
  url: string;
  tokens: Record<string, string>;
  exited: Promise<number | null>;
}

/** `npm start` as a newcomer runs it (without npm, whose build already ran): no DATABASE_URL. */
async function start(dataDir: string): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env, EMBEDDED_PG_DIR: dataDir, PORT: "0", LOG_LEVEL: "warn" };
  delete env.DATABASE_URL;
  delete env.TEST_CLOCK;
  const child = spawn(process.execPath, [MAIN], { env, stdio: ["ignore", "pipe", "pipe"] });
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
  return { child, url, tokens, exited };
}

async function gql(url: string, token: string, query: string, variables?: Record<string, unknown>): Promise<any> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

describe("npm start on an embedded PostgreSQL", () => {
  let dir: string;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("serves with demo data and a token per role, keeps data across restarts, and leaves no postgres behind", async () => {
    dir = await mkdtemp(join(tmpdir(), "custodian-start-"));
    await chmod(dir, 0o755); // as a checkout would be: the postgres user must be able to enter it
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
