import { generateKeyPairSync } from "node:crypto";
import { openDatabases } from "../src/databases";
import { createLogger } from "../src/shared/logging";
import { sealExisting } from "../src/sealing";
import { LocalKeyProvider } from "../src/modules/keys/envelope";
import { KeyRing } from "../src/modules/keys/key-ring";
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../src/shared/db/embedded";
import { Client } from "pg";
import { regionDatabaseName, withDatabase } from "../src/shared/db/topology";

export const BENCH_SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789";

export interface ApiProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** One signing key for every API this process starts: instances of one deployment share it. */
const AUDIT_SIGNING_KEY = String(generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));

/** The master key of every API a bench or drill starts (production requires one). */
export const BENCH_MASTER_KEY = Buffer.alloc(32, 42).toString("base64");

/**
 * The API as it runs in production: its own process, on the given database (null: its own
 * embedded server, in EMBEDDED_PG_DIR of `env`).
 */
export async function startApi(
  databaseUrl: string | null,
  env: Record<string, string> = {},
  port?: number,
  options: { nodeArgs?: string[]; onStdout?: (chunk: string) => void } = {},
): Promise<ApiProcess> {
  port ??= await freePort();
  // API_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the API under load.
  const nodeArgs = [...(options.nodeArgs ?? []), ...(process.env.API_NODE_ARGS ?? "").split(" ").filter(Boolean)];
  const child = spawn(process.execPath, [...nodeArgs, join(__dirname, "..", "src", "main.js")], {
    env: {
      ...process.env,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATABASE_URL: "" }),
      PORT: String(port),
      JWT_SECRET: BENCH_SECRET,
      LOG_LEVEL: "warn",
      NODE_ENV: "production",
      AUDIT_SIGNING_KEY,
      // Production's keys, on one machine: a fixed master key, the key stores beside the data.
      MASTER_KEY: BENCH_MASTER_KEY,
      KEYSTORE_SAME_SERVER_UNSAFE: "1",
      RATE_LIMIT_PER_MINUTE: "off",
      ...env,
    },
    stdio: ["ignore", options.onStdout ? "pipe" : "ignore", "inherit"],
  });
  if (options.onStdout) child.stdout!.setEncoding("utf8").on("data", options.onStdout);
  const url = `http://127.0.0.1:${port}/graphql`;
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error("the API exited during start");
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return {
    url,
    child,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export async function gql(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<any> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body: any = await response.json();
  if (body.errors) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Runs `tasks` with at most `concurrency` at a time; returns the wall-clock seconds. */
export async function timed(tasks: Array<() => Promise<unknown>>, concurrency: number): Promise<number> {
  const started = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks.length) await tasks[next++]();
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

export function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw ? Number(raw) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number`);
  return value;
}

/** A memory figure of /proc/<pid>/status in bytes: VmRSS (resident now) or VmHWM (the peak since start). */
export function procStatusBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
}

/** A process's /proc stat fields after its name: [state, ppid, ...]; null once it is gone. */
export function statFields(pid: number | string): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  } catch {
    return null;
  }
}

/** User + system time in ms from stat fields at `at` and `at + 1`: /proc counts in ticks of 10 ms. */
function cpuMs(fields: string[], at: number): number {
  return (Number(fields[at]) + Number(fields[at + 1])) * 10;
}

/** CPU time (user + system) a process has used, in ms; 0 once it is gone. */
export function processCpuMs(pid: number): number {
  const fields = statFields(pid);
  return fields ? cpuMs(fields, 11) : 0;
}

/** PIDs of the processes on this machine that `matches` accepts; a process gone meanwhile is left out. */
export function processIds(matches: (pid: string) => boolean): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (matches(entry)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** PIDs of processes whose command line names `text`, e.g. an embedded server's data directory. */
export function processesNaming(text: string): number[] {
  return processIds((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text));
}

function isPostgres(pid: number | string): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "postgres";
  } catch {
    return false;
  }
}

/**
 * PostgreSQL's CPU time by kind of process, in ms: a backend by its role and database (as its
 * process title names them), a background process by its title (walwriter, checkpointer,
 * autovacuum worker, ...), and the postmaster with its exited children's time.
 */
export function postgresCpuByKind(): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const pid of processIds(isPostgres)) {
    const fields = statFields(pid);
    if (!fields) continue;
    let title: string;
    try {
      title = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    } catch {
      continue;
    }
    const postmaster = !isPostgres(fields[1]);
    const backend = /^postgres: (\S+) (\S+) (?:127\.0\.0\.1|\[local\]|::1)/.exec(title);
    const kind = postmaster
      ? "postmaster (and exited children)"
      : backend
        ? `${backend[1]} on ${backend[2]}`
        : title.replace(/^postgres: /, "").replace(/ \d+$/, "");
    kinds.set(kind, (kinds.get(kind) ?? 0) + cpuMs(fields, 11) + (postmaster ? cpuMs(fields, 13) : 0));
  }
  return kinds;
}

/**
 * CPU time of PostgreSQL on the machine (the bench's own server does nearly all of it), or of the
 * one server whose postmaster is `server`, in ms: each server process, and for a postmaster also
 * its exited children's (their time is added to the parent's when it reaps them), so a connection
 * closed during a run still counts.
 */
export function postgresCpuMs(server?: number): number {
  let total = 0;
  for (const pid of processIds(isPostgres)) {
    const fields = statFields(pid);
    if (!fields) continue;
    if (server !== undefined && pid !== server && Number(fields[1]) !== server) continue;
    total += cpuMs(fields, 11);
    // A postmaster: its reaped children's time too.
    if (!isPostgres(fields[1])) total += cpuMs(fields, 13);
  }
  return total;
}

/**
 * The EU region's database beside control `controlUrl` (the default topology: each location's
 * database on the control server): where a bench seeds its tenants and their data directly.
 */
export function euRegionUrl(controlUrl: string): string {
  return regionUrl(controlUrl, "EU");
}

/** Location `code`'s region database beside control `controlUrl` (the default topology). */
export function regionUrl(controlUrl: string, code: string): string {
  return withDatabase(controlUrl, regionDatabaseName(controlUrl, code));
}

/** Copies the EU region's tenant rows into control's directory, as the service keeps it (a bench seeds the region directly). */
export async function syncDirectory(controlUrl: string): Promise<void> {
  const region = new Client({ connectionString: euRegionUrl(controlUrl) });
  const control = new Client({ connectionString: controlUrl });
  await Promise.all([region.connect(), control.connect()]);
  try {
    const { rows } = await region.query(`SELECT to_jsonb(t) AS row FROM tenant t`);
    await control.query(`INSERT INTO tenant SELECT * FROM jsonb_populate_recordset(NULL::tenant, $1) ON CONFLICT (id) DO NOTHING`, [
      JSON.stringify(rows.map((r: { row: unknown }) => r.row)),
    ]);
  } finally {
    await Promise.all([region.end(), control.end()]);
  }
}

/** A key ring under the benches' master key: the keys the API started by a bench uses. */
export function benchKeyRing(): KeyRing {
  return new KeyRing(new LocalKeyProvider(Buffer.from(BENCH_MASTER_KEY, "base64")));
}

/**
 * Seals a seeded dataset as the API keeps its data (values and identifiers under their keys, in
 * key stores beside the data), with the benches' master key: before the API starts, so that its
 * own sealing at start finds nothing to do and measurements see sealed data only.
 */
export async function sealSeededData(controlUrl: string): Promise<void> {
  const log = createLogger("warn");
  const topology = await openDatabases({ controlUrl, pool: { poolSize: 4, timeouts: false }, log: createLogger("error"), now: new Date() });
  try {
    const run = await sealExisting(topology, benchKeyRing(), () => new Date(), {
      batchSize: 2000,
      log,
    });
    const left = Object.values(run.plaintextLeft).reduce((a, b) => a + b, 0);
    if (left) throw new Error(`${left} seeded rows are still plaintext`);
    // Sealing in place rewrote every row: compacted and analysed, as data written sealed would be
    // (a plain VACUUM left the tables twice their size, and the SQL floor itself 20% slower); then
    // vacuumed again, as seeding ends, because VACUUM FULL leaves the visibility map empty and
    // every index-only scan (the dashboard's counts) then visits the heap: the floor fell from 557
    // to 374 req/s on that alone.
    for (const database of topology.all) {
      await database.owner.query(`VACUUM (FULL, ANALYZE)`);
      await database.owner.query(`VACUUM`);
    }
  } finally {
    await topology.close();
  }
}
