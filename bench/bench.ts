import autocannon from "autocannon";
import { fork, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { Pool } from "pg";
import { freshDatabase } from "../scripts/fresh-database";
import { signToken } from "../src/shared/auth/jwt";
import { Role } from "../src/shared/auth/role";
import { freePort } from "../src/shared/db/embedded";
import { encodeCursor } from "../src/shared/pagination";
import { createLogger } from "../src/shared/logging";
import { datasetSize, seedDataset, tenantIds } from "./dataset";
import { BENCH_SECRET, euRegionUrl, intFromEnv, postgresCpuMs, processCpuMs, procStatusBytes, regionUrl, sealSeededData, startApi } from "./lib";

/**
 * `npm run bench`: the read path of Custodian against PostGraphile 5 and hand-written SQL on one
 * fresh, fixed dataset, then the ingest and retention benches. One table on the console, the same
 * figures in bench/results/latest.json; the last line reads `ratio R`, R = Custodian's dashboard
 * req/s / PostGraphile's. Settings: BENCH_SCALE (1: 200 tenants, 20,000 subjects, 200,000
 * records), BENCH_SECONDS (10), BENCH_RUNS (3), BENCH_WARMUP (20 s), BENCH_CONNECTIONS (20),
 * DASHBOARD_TENANTS and DASHBOARD_RECORDS (20 and 20), VALUES_PER_REQUEST (100).
 */
const ROOT = join(__dirname, "..", "..");

/**
 * The bench's PostgreSQL: statements counted, and connections for the API's pools, PostGraphile's
 * and the floor's at once (the values floor's key store pools met 'too many clients' at 100).
 */
const BENCH_SERVER_SETTINGS = { shared_preload_libraries: "pg_stat_statements", max_connections: "300" };

/** The dashboard through Custodian, as an operator (the one role that lists tenants). */
const CUSTODIAN_DASHBOARD = `query($tenants: Int!, $records: Int!) {
  tenants(first: $tenants) { nodes { id name storageLocation { code name }
    personalDataRecords(first: $records) { totalCount nodes { id category status subject { id status } } } } } }`;

/** The same question in PostGraphile's schema (Amber preset, ordered as Custodian orders). */
const POSTGRAPHILE_DASHBOARD = `query($tenants: Int!, $records: Int!) {
  allTenants(first: $tenants, orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]) { nodes { rowId name storageLocationByStorageLocationCode { code name }
    personalDataRecords(first: $records, orderBy: [CREATED_AT_ASC, PRIMARY_KEY_ASC]) { totalCount nodes { rowId category status
      dataSubjectByTenantIdAndDataSubjectId { rowId status } } } } } }`;

/** An integration reading values for one purpose (the purpose check and the audit write included). */
const VALUES = `query($id: ID!, $first: Int!) { tenant(id: $id) { personalDataRecords(first: $first, filter: { status: ACTIVE }) { nodes { id value(purpose: SERVICE_OPERATION) } } } }`;

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU per request of the target's server process and of PostgreSQL, in ms (where the bench knows the process). */
  serverCpuMs: number | null;
  databaseCpuMs: number;
}

interface CaseFigures {
  runs: Run[];
  median: Run;
  statementsPerRequest: number | null;
  /**
   * PostgreSQL's 8 KB pages per request (pg_stat_statements): found in its shared buffers, and
   * read from outside them (the OS's page cache, or the disk). Null where statements are not counted.
   */
  blocksPerRequest: { hit: number; read: number } | null;
}

interface Target {
  name: string;
  url: string;
  request: (i: number) => { headers: Record<string, string>; body: string };
  /** The process that answers (its CPU time is read around each run). */
  pid?: number;
  /** The rows of one answer, in a form all three targets share: for the equivalence check. */
  rows?: (body: any) => unknown;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function median(runs: Run[]): Run {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor(sorted.length / 2)];
}

/** autocannon at `connections` for `seconds`; a non-2xx answer, a GraphQL error or a socket error counts as an error. */
async function load(target: Target, connections: number, seconds: number): Promise<Run> {
  let n = 0;
  let graphqlErrors = 0;
  const cpuBefore = { server: target.pid ? processCpuMs(target.pid) : 0, database: postgresCpuMs() };
  const result = await autocannon({
    url: target.url,
    method: "POST",
    connections,
    duration: seconds,
    requests: [
      {
        setupRequest: (request: any) => ({ ...request, ...target.request(n++) }),
        onResponse: (status: number, body: string) => {
          if (status === 200 && body.includes('"errors"')) graphqlErrors += 1;
        },
      } as any,
    ],
  });
  const requests = Math.max(1, result.requests.total);
  const run = {
    rps: result.requests.total / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + graphqlErrors + result.timeouts,
    serverCpuMs: target.pid ? round1((processCpuMs(target.pid) - cpuBefore.server) / requests) : null,
    databaseCpuMs: round1((postgresCpuMs() - cpuBefore.database) / requests),
  };
  const cpu = `CPU per request: server ${run.serverCpuMs ?? "n/a"} ms, PostgreSQL ${run.databaseCpuMs} ms`;
  console.log(`#   ${target.name}: ${run.rps.toFixed(0)} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, ${run.errors} errors, ${cpu} (${seconds} s)`);
  return run;
}

/** One request on a connection of its own (a keep-alive socket left from before a load run was seen to hang). */
function post(target: Target, i: number): Promise<any> {
  const { headers, body } = target.request(i);
  return new Promise((ok, fail) => {
    const req = request(target.url, { method: "POST", headers: { ...headers, "content-length": Buffer.byteLength(body) }, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => {
        if (res.statusCode !== 200 || text.includes('"errors"')) return fail(new Error(`${target.name} answered ${res.statusCode}: ${text.slice(0, 300)}`));
        ok(JSON.parse(text));
      });
    });
    req.on("error", fail);
    req.end(body);
  });
}

/**
 * Each target warmed up (`warmup` s, all alike), then `runs` runs of `seconds`, interleaved so a
 * slow spell of the machine falls on all alike; the median run, and statements per request
 * counted afterwards. The warm-up reaches the steady state: a fresh Custodian process used 4.1,
 * 3.4 and 3.0 ms of CPU per dashboard request in its runs after a 10 s warm-up, and the floor
 * 440, 470 and 476 req/s; both steady after about 20 s of load.
 */
async function measure(
  pool: Pool,
  targets: Target[],
  settings: { connections: number; seconds: number; runs: number; warmup: number },
): Promise<Map<Target, CaseFigures>> {
  const runs = new Map<Target, Run[]>(targets.map((t) => [t, []]));
  for (const target of targets) await load(target, settings.connections, settings.warmup);
  for (let run = 0; run < settings.runs; run++) {
    for (const target of targets) runs.get(target)!.push(await load(target, settings.connections, settings.seconds));
  }
  const figures = new Map<Target, CaseFigures>();
  for (const target of targets) {
    const counted = await statementsAndPagesPerRequest(pool, target, 20);
    figures.set(target, {
      runs: runs.get(target)!,
      median: median(runs.get(target)!),
      statementsPerRequest: counted?.statements ?? null,
      blocksPerRequest: counted && { hit: counted.blocksHit, read: counted.blocksRead },
    });
  }
  return figures;
}

/** SQL statements and the pages they touched per request, from pg_stat_statements (null when the server has not loaded it). */
async function statementsAndPagesPerRequest(
  pool: Pool,
  target: Target,
  requests: number,
): Promise<{ statements: number; blocksHit: number; blocksRead: number } | null> {
  // Requests still in flight from the load run would be counted too: wait until every other
  // session of control and its region databases (named after it) is idle (at most 5 s).
  for (let waited = 0; waited < 5000; waited += 50) {
    const { rows } = await pool.query(
      `SELECT count(*)::int AS busy FROM pg_stat_activity WHERE datname LIKE current_database() || '%' AND pid <> pg_backend_pid() AND state <> 'idle'`,
    );
    if (rows[0].busy === 0) break;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  try {
    await pool.query(`SELECT pg_stat_statements_reset()`);
  } catch {
    return null;
  }
  for (let i = 0; i < requests; i++) await post(target, i);
  // Not the requests': the webhook dispatcher's poll of each database (once a second) and the
  // queue's own, which added 0.25 to the dashboard's count when a poll fell inside the requests.
  const { rows } = await pool.query(
    `SELECT coalesce(sum(calls), 0)::int AS calls, coalesce(sum(shared_blks_hit), 0)::int AS hit, coalesce(sum(shared_blks_read), 0)::int AS read
       FROM pg_stat_statements
      WHERE dbid IN (SELECT oid FROM pg_database WHERE datname LIKE current_database() || '%') AND query NOT LIKE '%pg_stat_statements%'
        AND query NOT LIKE '%webhook_delivery%' AND query NOT LIKE '%graphile_worker%'`,
  );
  const [{ calls, hit, read }] = rows;
  return { statements: calls / requests, blocksHit: Math.round(hit / requests), blocksRead: Math.round(read / requests) };
}

/**
 * Custodian's dashboard on the same dataset with its tenants spread over the four seeded
 * locations (tenant t in location t mod 4, each location its own database): the fan-out's cost,
 * beside the one-location figures. A database set of its own, dropped afterwards.
 */
async function spreadDashboard(
  size: ReturnType<typeof datasetSize>,
  settings: { connections: number; seconds: number; runs: number; warmup: number },
  query: string,
  variables: Record<string, unknown>,
  operator: string,
): Promise<{ figures: CaseFigures; oneAtATime: Run }> {
  const database = await freshDatabase("custodian_bench4", createLogger("warn"), BENCH_SERVER_SETTINGS);
  const control = new Pool({ connectionString: database.url, max: 2 });
  control.on("error", () => undefined);
  const regions = ["EU", "US", "UK", "APAC"].map((code) => ({ code, pool: new Pool({ connectionString: regionUrl(database.url, code), max: 2 }) }));
  for (const { pool } of regions) pool.on("error", () => undefined);
  let api: Awaited<ReturnType<typeof startApi>> | undefined;
  try {
    await seedDataset({ control, regions }, size);
    await sealSeededData(database.url);
    await control.query(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`).catch(() => undefined);
    api = await startApi(database.url, { RETENTION_INTERVAL: "off" });
    const target: Target = {
      name: "Custodian, 4 regions",
      url: api.url,
      pid: api.child.pid,
      request: () => ({ headers: { "content-type": "application/json", authorization: `Bearer ${operator}` }, body: JSON.stringify({ query, variables }) }),
    };
    const sample = await post(target, 0);
    const locations = new Set(sample.data.tenants.nodes.map((t: { storageLocation: { code: string } }) => t.storageLocation.code));
    if (locations.size !== 4) throw new Error(`the spread dashboard's page spans ${locations.size} locations, not 4`);
    const figures = (await measure(control, [target], settings)).get(target)!;
    return { figures, oneAtATime: await load(target, 1, settings.seconds) };
  } finally {
    await api?.stop();
    await Promise.all([control, ...regions.map((r) => r.pool)].map((p) => p.end()));
    await database.drop();
  }
}

/** A page of a tenant's records, as a client pages through them (`after`: the previous page's endCursor). */
const RECORD_PAGE = `query($id: ID!, $after: String) { tenant(id: $id) { personalDataRecords(first: 20, after: $after) { nodes { id category status } pageInfo { endCursor } } } }`;

/**
 * Deep pages: one tenant given DEEP_RECORDS more records (default 12,000), then its first page and
 * the page after a cursor 10,000 records deep, each one request at a time, measured as the other cases: a
 * keyset page costs the same at any depth, where an offset would read every row before it.
 */
async function deepPages(
  pool: Pool,
  controlUrl: string,
  target: (after: string | null) => Target,
  tenantId: string,
  settings: { seconds: number; runs: number; warmup: number },
): Promise<{ first: CaseFigures; deep: CaseFigures; depth: number }> {
  const depth = 10_000;
  const region = new Pool({ connectionString: euRegionUrl(controlUrl), max: 1 });
  region.on("error", () => undefined);
  let cursor: string;
  try {
    await region.query(
      `INSERT INTO personal_data_record (id, tenant_id, data_subject_id, category, purposes, storage_location_code, value, status, created_at, updated_at)
       SELECT gen_random_uuid(), $1, (SELECT id FROM data_subject WHERE tenant_id = $1 ORDER BY id LIMIT 1), 'DEVICE', '{SERVICE_OPERATION}', 'EU',
              jsonb_build_object('serialNumber', 'SN-deep-' || g), 'ACTIVE', now() + g * interval '1 millisecond', now()
         FROM generate_series(1, $2::int) g`,
      [tenantId, intFromEnv("DEEP_RECORDS", 12_000)],
    );
    await region.query(`ANALYZE personal_data_record`);
    const { rows } = await region.query(`SELECT created_at, id FROM personal_data_record WHERE tenant_id = $1 ORDER BY created_at, id OFFSET $2 - 1 LIMIT 1`, [
      tenantId,
      depth,
    ]);
    cursor = encodeCursor([rows[0].created_at.toISOString(), rows[0].id]);
  } finally {
    await region.end();
  }
  const first = target(null);
  const deep = target(cursor);
  // The deep page must be the page after the cursor, not an empty one.
  const page = await post(deep, 0);
  if (page.data.tenant.personalDataRecords.nodes.length !== 20) throw new Error("the deep page is not a full page");
  const figures = await measure(pool, [first, deep], { ...settings, connections: 1 });
  return { first: figures.get(first)!, deep: figures.get(deep)!, depth };
}

function startProcess(command: string, args: string[], env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit", "ipc"] });
  return new Promise((ok, fail) => {
    child.once("message", () => ok(child));
    child.once("exit", (code) => fail(new Error(`${command} ${args.join(" ")} exited with ${code} during start`)));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((ok) => child.once("exit", ok));
  child.kill("SIGTERM");
  await exited;
}

/** Ingest, retention and the purge's scaling, each in a process and on a database of its own. */
async function writeBenches(scale: number) {
  console.log("# ingest and retention benches (each on a database of its own)");
  // Into tables that already hold this scale's dataset: how ingest's cost moves as the data grows.
  const ingest = await childBench("ingest.js", { BENCH_SCALE: String(scale) });
  const retention = await childBench("retention.js");
  // The purge's time as the table grows and the rows it purges do not (10,000 of each size).
  const purgeSmall = await childBench("retention.js", { BENCH_RECORDS: "200000", BENCH_DUE: "10000" });
  const purgeLarge = await childBench("retention.js", { BENCH_RECORDS: "1000000", BENCH_DUE: "10000" });
  return { ingest, retention, purgeSmall, purgeLarge };
}

/** Runs one of the existing benches in its own process and reads the figures it prints last. */
function childBench(script: string, env: Record<string, string> = {}): Promise<Record<string, number>> {
  return new Promise((ok, fail) => {
    const child = fork(join(__dirname, script), ["--json"], { stdio: ["ignore", "pipe", "inherit", "ipc"], env: { ...process.env, ...env } });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.once("exit", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !last.startsWith("{")) return fail(new Error(`${script} failed (${code}): ${out.slice(-500)}`));
      ok(JSON.parse(last));
    });
  });
}

async function main() {
  const scale = Number(process.env.BENCH_SCALE ?? 1);
  if (!(scale > 0)) throw new Error("BENCH_SCALE must be a positive number");
  const seconds = intFromEnv("BENCH_SECONDS", 10);
  const runs = intFromEnv("BENCH_RUNS", 3);
  const warmup = intFromEnv("BENCH_WARMUP", 20);
  const connections = intFromEnv("BENCH_CONNECTIONS", 20);
  const dashTenants = intFromEnv("DASHBOARD_TENANTS", 20);
  const dashRecords = intFromEnv("DASHBOARD_RECORDS", 20);
  const valuesPerRequest = intFromEnv("VALUES_PER_REQUEST", 100);
  const size = datasetSize(scale);

  const database = await freshDatabase("custodian_bench", createLogger("warn"), BENCH_SERVER_SETTINGS);
  const pool = new Pool({ connectionString: database.url, max: 2 });
  pool.on("error", () => undefined);
  const children: ChildProcess[] = [];
  let api: Awaited<ReturnType<typeof startApi>> | undefined;
  let dropped = false;
  try {
    console.log(`# bench on ${database.description}: ${size.tenants} tenants, ${size.subjects} subjects, ${size.records} records`);
    const started = Date.now();
    // One location: every tenant in EU, the region database PostGraphile and the floor read too.
    const eu = new Pool({ connectionString: euRegionUrl(database.url), max: 2 });
    eu.on("error", () => undefined);
    await seedDataset({ control: pool, regions: [{ code: "EU", pool: eu }] }, size);
    await eu.end();
    await sealSeededData(database.url);
    await pool.query(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`).catch(() => undefined);
    console.log(`# seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const tenants = await tenantIds(pool);

    api = await startApi(database.url, { RETENTION_INTERVAL: "off" });
    const pgPort = await freePort();
    const postgraphileProcess = await startProcess(
      join(ROOT, "bench", "node_modules", "node", "bin", "node"),
      [join(ROOT, "bench", "postgraphile", "server.mjs")],
      {
        DATABASE_URL: euRegionUrl(database.url),
        PORT: String(pgPort),
        GRAPHILE_ENV: "production",
      },
    );
    children.push(postgraphileProcess);
    const floorPort = await freePort();
    const floorProcess = await startProcess(process.execPath, [join(__dirname, "floor.js")], {
      DATABASE_URL: euRegionUrl(database.url),
      PORT: String(floorPort),
      DASHBOARD_TENANTS: String(dashTenants),
      DASHBOARD_RECORDS: String(dashRecords),
      CONTROL_URL: database.url,
    });
    children.push(floorProcess);

    const operator = await signToken({ subject: "bench-operator", role: Role.OPERATOR }, BENCH_SECRET);
    const json = { "content-type": "application/json" };
    const variables = { tenants: dashTenants, records: dashRecords };
    const custodian: Target = {
      name: "Custodian",
      url: api.url,
      pid: api.child.pid,
      request: () => ({ headers: { ...json, authorization: `Bearer ${operator}` }, body: JSON.stringify({ query: CUSTODIAN_DASHBOARD, variables }) }),
      rows: (b) =>
        b.data.tenants.nodes.map((t: any) => [
          t.id,
          t.name,
          t.storageLocation.code,
          t.storageLocation.name,
          t.personalDataRecords.totalCount,
          t.personalDataRecords.nodes.map((r: any) => [r.id, r.category, r.status, r.subject.id, r.subject.status]),
        ]),
    };
    const postgraphile: Target = {
      name: "PostGraphile 5",
      url: `http://127.0.0.1:${pgPort}/graphql`,
      pid: postgraphileProcess.pid,
      request: () => ({ headers: json, body: JSON.stringify({ query: POSTGRAPHILE_DASHBOARD, variables }) }),
      rows: (b) =>
        b.data.allTenants.nodes.map((t: any) => [
          t.rowId,
          t.name,
          t.storageLocationByStorageLocationCode.code,
          t.storageLocationByStorageLocationCode.name,
          t.personalDataRecords.totalCount,
          t.personalDataRecords.nodes.map((r: any) => [
            r.rowId,
            r.category,
            r.status,
            r.dataSubjectByTenantIdAndDataSubjectId.rowId,
            r.dataSubjectByTenantIdAndDataSubjectId.status,
          ]),
        ]),
    };
    const floor: Target = {
      name: "SQL floor (pg)",
      url: `http://127.0.0.1:${floorPort}/`,
      pid: floorProcess.pid,
      request: () => ({ headers: json, body: "{}" }),
      rows: (b) => b.data.map((t: any) => [t.id, t.name, t.code, t.location_name, t.total, t.records]),
    };
    const dashboard = [custodian, postgraphile, floor];

    // The three must answer with the same rows, or the comparison means nothing.
    const reference = JSON.stringify(floor.rows!(await post(floor, 0)));
    for (const target of dashboard) {
      if (JSON.stringify(target.rows!(await post(target, 0))) !== reference) throw new Error(`${target.name} does not answer with the floor's rows`);
    }
    console.log(`# the three dashboards answer with the same ${dashTenants} tenants x ${dashRecords} records`);

    const dashboardCases = await measure(pool, dashboard, { connections, seconds, runs, warmup });
    // Unloaded latency, one request at a time: what a fan-out adds when the CPU is not the limit.
    const oneAtATime = await load(custodian, 1, seconds);

    const integrationTokens = await Promise.all(
      tenants.map((tenantId) => signToken({ subject: "bench-integration", role: Role.INTEGRATION, tenantId }, BENCH_SECRET)),
    );
    const values: Target = {
      name: "Custodian values",
      url: api.url,
      pid: api.child.pid,
      request: (i) => ({
        headers: { ...json, authorization: `Bearer ${integrationTokens[i % tenants.length]}` },
        body: JSON.stringify({ query: VALUES, variables: { id: tenants[i % tenants.length], first: valuesPerRequest } }),
      }),
      rows: (b) => b.data.tenant.personalDataRecords.nodes.map((r: any) => [r.id, r.value]),
    };
    const valuesFloor: Target = {
      name: "values SQL floor (pg)",
      url: `http://127.0.0.1:${floorPort}/values`,
      pid: floorProcess.pid,
      request: (i) => ({ headers: json, body: JSON.stringify({ tenant: tenants[i % tenants.length], first: valuesPerRequest }) }),
      rows: (b) => b.data.map((r: any) => [r.id, r.value]),
    };
    const sample = await post(values, 0);
    if (sample.data.tenant.personalDataRecords.nodes.filter((r: any) => r.value).length !== valuesPerRequest)
      throw new Error("the values case did not read every value");
    if (JSON.stringify(values.rows!(sample)) !== JSON.stringify(valuesFloor.rows!(await post(valuesFloor, 0))))
      throw new Error("the values floor does not answer with Custodian's values");
    const valuesCases = await measure(pool, [values, valuesFloor], { connections, seconds, runs, warmup });
    const valuesCase = valuesCases.get(values)!;
    const valuesFloorCase = valuesCases.get(valuesFloor)!;
    const rssMb = procStatusBytes(api.child.pid!, "VmHWM") / 1048576;

    const deepTenant = tenants.length - 1;
    const pageTarget = (after: string | null): Target => ({
      name: after ? "records page, 10,000 deep" : "records page, first",
      url: api!.url,
      pid: api!.child.pid,
      request: () => ({
        headers: { ...json, authorization: `Bearer ${integrationTokens[deepTenant]}` },
        body: JSON.stringify({ query: RECORD_PAGE, variables: { id: tenants[deepTenant], after } }),
      }),
    });
    const deep = await deepPages(pool, database.url, pageTarget, tenants[deepTenant], { seconds, runs, warmup });

    await api.stop();
    api = undefined;
    for (const child of children.splice(0)) await stopProcess(child);
    await pool.end();
    await database.drop();
    dropped = true;

    // BENCH_READS_ONLY=1: the read cases alone (e.g. at BENCH_SCALE=5, against the same cases at 1).
    const readsOnly = process.env.BENCH_READS_ONLY === "1";
    if (!readsOnly) console.log("# the dashboard with its tenants spread over four region databases");
    const spread = readsOnly ? null : await spreadDashboard(size, { connections, seconds, runs, warmup }, CUSTODIAN_DASHBOARD, variables, operator);

    const writes = readsOnly ? null : await writeBenches(scale);

    const c = dashboardCases.get(custodian)!;
    const p = dashboardCases.get(postgraphile)!;
    const f = dashboardCases.get(floor)!;
    const ratio = c.median.rps / p.median.rps;
    const ofFloor = c.median.rps / f.median.rps;
    const range = (rs: Run[]) => `${Math.min(...rs.map((r) => r.rps)).toFixed(0)}-${Math.max(...rs.map((r) => r.rps)).toFixed(0)}`;
    const row = (label: string, k: CaseFigures) =>
      `${label.padEnd(28)} ${k.median.rps.toFixed(0).padStart(7)} ${range(k.runs).padStart(11)} ${String(k.median.p50).padStart(7)} ${String(k.median.p99).padStart(7)} ${(k.statementsPerRequest ?? "n/a").toString().padStart(6)} ${String(k.runs.reduce((s, r) => s + r.errors, 0)).padStart(6)} ${String(k.median.serverCpuMs ?? "n/a").padStart(10)} ${String(k.median.databaseCpuMs).padStart(6)} ${(k.blocksPerRequest ? `${k.blocksPerRequest.hit}/${k.blocksPerRequest.read}` : "n/a").padStart(10)}`;
    console.log("");
    console.log(
      `case / target                  req/s  min-max(${runs})  p50 ms  p99 ms  stmts  errors  server CPU  DB CPU  pages h/r   (median of ${runs} runs of ${seconds} s at ${connections} connections; CPU in ms per request; PostgreSQL pages per request found in / read into its shared buffers)`,
    );
    console.log(row("dashboard: Custodian", c));
    console.log(row("dashboard: PostGraphile 5", p));
    console.log(row("dashboard: SQL floor (pg)", f));
    if (spread) {
      console.log(row("dashboard: Custodian, 4 regions", spread.figures));
      console.log(
        `dashboard one request at a time: p50 ${oneAtATime.p50} ms in one region, ${spread.oneAtATime.p50} ms over four (${(spread.oneAtATime.p50 / oneAtATime.p50).toFixed(2)}x); at ${connections} connections ${(spread.figures.median.p50 / c.median.p50).toFixed(2)}x`,
      );
    }
    console.log(row(`values: ${valuesPerRequest} for one purpose`, valuesCase));
    console.log(row("values: SQL floor (pg)", valuesFloorCase));
    const valuesOfFloor = valuesCase.median.rps / valuesFloorCase.median.rps;
    console.log(
      `values ratios: Custodian / floor ${(valuesOfFloor * 100).toFixed(0)}%, p99 ${(valuesCase.median.p99 / valuesFloorCase.median.p99).toFixed(2)}x the floor's`,
    );
    console.log(`dashboard ratios: Custodian / PostGraphile ${ratio.toFixed(2)}, Custodian / floor ${(ofFloor * 100).toFixed(0)}%`);
    const perRequestMs = (k: CaseFigures) => 1000 / k.median.rps;
    const deepRatio = perRequestMs(deep.deep) / perRequestMs(deep.first);
    console.log(
      `deep pages, one request at a time: first page ${perRequestMs(deep.first).toFixed(2)} ms, ${deep.depth} records deep ${perRequestMs(deep.deep).toFixed(2)} ms (${deepRatio.toFixed(2)}x)`,
    );
    const purgeRatio = writes ? writes.purgeLarge.engineSeconds / writes.purgeSmall.engineSeconds : null;
    if (writes) {
      const { ingest, retention, purgeSmall, purgeLarge } = writes;
      console.log(
        `ingest into tables of ${ingest.existingRecords} records: API ${ingest.apiRowsPerSecond.toFixed(0)} rows/s, direct ${ingest.directRowsPerSecond.toFixed(0)} rows/s, ratio ${ingest.ratio.toFixed(3)}`,
      );
      console.log(
        `retention: engine ${retention.engineRowsPerSecond.toFixed(0)} rows/s, plain DELETE ${retention.directRowsPerSecond.toFixed(0)} rows/s, ratio ${retention.ratio.toFixed(3)}`,
      );
      const trend = retention.rssByTenthMb as unknown as number[];
      console.log(
        `retention RSS: idle ${retention.idleRssMb.toFixed(0)} MB; at each tenth of the purge of ${retention.records} records ${trend.map((m) => m.toFixed(0)).join(" ")} MB`,
      );
      console.log(
        `purge of 10,000 due rows: ${purgeSmall.engineSeconds.toFixed(2)} s in a ${purgeSmall.tableRows}-row table, ${purgeLarge.engineSeconds.toFixed(2)} s in a ${purgeLarge.tableRows}-row table (${purgeRatio!.toFixed(2)}x)`,
      );
    }
    console.log(`peak RSS of the API process: ${rssMb.toFixed(0)} MB`);
    const checks = [
      ["dashboard >= 0.8x PostGraphile", ratio >= 0.8],
      ["dashboard >= 45% of the floor", ofFloor >= 0.45],
      ["dashboard p99 <= 200 ms", c.median.p99 <= 200],
      // Per database the request touches (control's directory, then the one region): one round
      // trip, the scope's statement and the page's in one pipeline.
      [
        "dashboard <= 4 SQL statements per request (2 round trips: control's page and the region's, each with its scope)",
        c.statementsPerRequest !== null && c.statementsPerRequest <= 4,
      ],
      // At 20 connections the CPU is the limit and p50 follows req/s; one at a time shows whether the fan-out is parallel.
      ["dashboard over 4 regions: p50 <= 1.5x one region's (loaded)", spread ? spread.figures.median.p50 <= 1.5 * c.median.p50 : null],
      ["dashboard over 4 regions: p50 <= 1.5x one region's (one at a time)", spread ? spread.oneAtATime.p50 <= 1.5 * oneAtATime.p50 : null],
      ["values p99 <= 100 ms", valuesCase.median.p99 <= 100],
      ["values >= 60% of its floor", valuesOfFloor >= 0.6],
      ["values p99 <= 1.3x its floor's", valuesCase.median.p99 <= 1.3 * valuesFloorCase.median.p99],
      ["API peak RSS <= 300 MB", rssMb <= 300],
      ["a page 10,000 deep within 1.2x of the first page's time", deepRatio <= 1.2],
      ["purging 10,000 of 1,000,000 within 2x of 10,000 of 200,000", purgeRatio === null ? null : purgeRatio <= 2],
      ["no errors", [c, p, f, valuesCase, valuesFloorCase].every((k) => k.runs.every((r) => r.errors === 0))],
    ] as const;
    for (const [label, ok] of checks) if (ok !== null) console.log(`${ok ? "ok  " : "MISS"} ${label}`);

    const report = {
      at: new Date().toISOString(),
      machine: { cpus: (await import("node:os")).cpus().length, node: process.version, database: database.description.replace(/ in \/.*$/, "") },
      settings: { scale, dataset: size, seconds, runs, warmup, connections, dashTenants, dashRecords, valuesPerRequest },
      dashboard: {
        custodian: c,
        postgraphile: p,
        floor: f,
        ratioToPostgraphile: ratio,
        fractionOfFloor: ofFloor,
        custodianFourRegions: spread?.figures ?? null,
        oneAtATime: { oneRegion: oneAtATime, fourRegions: spread?.oneAtATime ?? null },
      },
      values: valuesCase,
      valuesFloor: valuesFloorCase,
      valuesFractionOfFloor: valuesOfFloor,
      deepPages: { ...deep, ratio: deepRatio },
      ingest: writes?.ingest ?? null,
      retention: writes?.retention ?? null,
      purgeScaling: writes ? { small: writes.purgeSmall, large: writes.purgeLarge, ratio: purgeRatio } : null,
      apiPeakRssMb: rssMb,
      checks: Object.fromEntries(checks),
    };
    mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
    writeFileSync(join(ROOT, "bench", "results", "latest.json"), JSON.stringify(report, null, 2) + "\n");
    console.log(`ratio ${ratio.toFixed(2)}`);
  } finally {
    if (api) await api.stop();
    for (const child of children) await stopProcess(child);
    if (!dropped) {
      await pool.end().catch(() => undefined);
      await database.drop();
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
