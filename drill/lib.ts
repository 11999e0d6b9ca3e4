import { randomUUID } from "node:crypto";
import { createKeystoreDataSource } from "../ormconfig";
import { open } from "../src/modules/keys/envelope";
import { valueAad } from "../src/modules/personal-data/sealed-values";
import { regionDatabaseName, withDatabase } from "../src/shared/db/topology";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Pool } from "pg";
import { benchKeyRing, procStatusBytes, processesNaming, processIds, startApi, statFields, type ApiProcess, BENCH_SECRET } from "../bench/lib";
import { Role } from "../src/shared/auth/role";
import { signToken } from "../src/shared/auth/jwt";
import { startEmbeddedPostgres, type EmbeddedServer } from "../src/shared/db/embedded";
import { createLogger } from "../src/shared/logging";

export { startApi, type ApiProcess };
export const log = createLogger("warn");
export const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

export interface DrillResult {
  drill: string;
  operations: number;
  acknowledged: number;
  lost: number;
  duplicated: number;
  errors: number;
  recoverySeconds: number | null;
  /** Guarantees other than loss and duplication that did not hold. */
  failures: string[];
}

/** A PostgreSQL the drill may kill: embedded, in its own directory, on a port that survives restarts. */
export class DrillDatabase {
  server!: EmbeddedServer;
  /** Control: the tenant directory, incidents. */
  pool!: Pool;
  /** The EU region, where the drills' tenants and their data live. */
  eu!: Pool;
  constructor(
    readonly dataDir: string,
    private port?: number,
    private readonly database = "custodian_drill",
  ) {}

  /** Starts (or restarts, on the same port, so clients' URLs stay valid) the server. */
  async start(): Promise<void> {
    // Sized for the drills' two instances at once, as the README says a server must be (100, the
    // default, left them and the drill's own clients out of connections: "too many clients").
    this.server = await startEmbeddedPostgres({ dataDir: this.dataDir, database: this.database, log, port: this.port, settings: { max_connections: "300" } });
    this.port ??= Number(new URL(this.server.url).port);
    this.pool = new Pool({ connectionString: this.server.url, max: 3 });
    this.pool.on("error", () => undefined);
    // The EU region's database beside control (the API creates it at its first start).
    this.eu = new Pool({ connectionString: withDatabase(this.server.url, regionDatabaseName(this.server.url, "EU")), max: 3 });
    this.eu.on("error", () => undefined);
  }

  get url(): string {
    return this.server.url;
  }

  /**
   * The batch marker of each of the tenant's records in EU, opened from its seal as the API would
   * (the key store beside the data, the drills' master key): what the database really holds.
   */
  async batchesOf(tenantId: string): Promise<number[]> {
    const { rows } = await this.eu.query(
      `SELECT id, tenant_id, data_subject_id, value, value_sealed, value_key_version FROM personal_data_record WHERE tenant_id = $1`,
      [tenantId],
    );
    const keystore = createKeystoreDataSource(withDatabase(this.server.url, `${regionDatabaseName(this.server.url, "EU")}_keys`), { poolSize: 1 });
    await keystore.initialize();
    try {
      const ring = benchKeyRing();
      const sealed = rows.filter((r) => r.value_sealed);
      const keys = await ring.recordKeys(
        keystore,
        sealed.map((r) => ({ recordId: r.id, version: r.value_key_version })),
      );
      const opened = sealed.map((r, i) => {
        const key = keys[i];
        if (!Buffer.isBuffer(key)) throw new Error(`record ${r.id} has no readable key`);
        const ref = { tenantId: r.tenant_id, subjectId: r.data_subject_id, recordId: r.id, version: r.value_key_version };
        return JSON.parse(open(key, r.value_sealed, valueAad(ref)).toString("utf8")) as { batch: number };
      });
      return [...rows.filter((r) => r.value).map((r) => r.value as { batch: number }), ...opened].map((v) => Number(v.batch));
    } finally {
      await keystore.destroy();
    }
  }

  /**
   * kill -9 of the postmaster; resolves once every process of the server is gone. Its backends
   * live on until they notice, and on a loaded machine one answered a query after the kill.
   */
  async kill9(): Promise<void> {
    const pid = Number(readFileSync(join(this.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    // Backends name no data directory (their title replaces the command line): they are found as
    // the postmaster's children before it goes, and waited for (killed after 10 s, if ever).
    const children = processIds((p) => statFields(p)?.[1] === String(pid));
    process.kill(pid, "SIGKILL");
    const until = Date.now() + 10_000;
    for (;;) {
      // A zombie (state Z) has ended: it only waits to be reaped.
      const left = children.filter((child) => ![undefined, "Z"].includes(statFields(child)?.[0]));
      if (!left.length && !processesNaming(this.dataDir).length) return;
      if (Date.now() > until) for (const child of left) process.kill(child, "SIGKILL");
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await this.pool?.end().catch(() => undefined);
    await this.eu?.end().catch(() => undefined);
    await this.server?.stop().catch(() => undefined);
  }
}

export function rssOf(pid: number): number {
  return procStatusBytes(pid, "VmRSS");
}

/**
 * A tenant in EU with one subject, made directly in the databases (as the owner: the region's
 * row, then control's directory entry, which a running API's repair may have copied first), and
 * an integration token.
 */
export async function drillTenant(db: { pool: Pool; eu: Pool }, name = "Drill") {
  const tenantId = randomUUID();
  const subjectId = randomUUID();
  for (const pool of [db.eu, db.pool]) {
    await pool.query(
      `INSERT INTO tenant (id, name, storage_location_code, created_at, updated_at) VALUES ($1, $2, 'EU', '2026-01-01', '2026-01-01') ON CONFLICT (id) DO NOTHING`,
      [tenantId, `${name} ${tenantId.slice(0, 8)}`],
    );
  }
  await db.eu.query(`INSERT INTO data_subject (id, tenant_id, external_id, created_at, updated_at) VALUES ($1, $2, 'drill-person', now(), now())`, [
    subjectId,
    tenantId,
  ]);
  return {
    tenantId,
    subjectId,
    token: await signToken({ subject: "drill-integration", role: Role.INTEGRATION, tenantId, expiresIn: "2h" }, BENCH_SECRET),
    admin: await signToken({ subject: "drill-admin", role: Role.TENANT_ADMIN, tenantId, expiresIn: "2h" }, BENCH_SECRET),
  };
}

export const operatorToken = () => signToken({ subject: "drill-operator", role: Role.OPERATOR, expiresIn: "2h" }, BENCH_SECRET);

/** `post`, again (up to five times, 500 ms apart) while the API answers that the failure is retryable and nothing was changed. */
export async function postRetrying(url: string, token: string, query: string, variables: Record<string, unknown> = {}): ReturnType<typeof post> {
  for (let attempt = 1; ; attempt++) {
    const answer = await post(url, token, query, variables);
    if (answer.ok || attempt >= 5 || answer.body?.errors?.[0]?.extensions?.retryable !== true) return answer;
    await sleep(500);
  }
}

export async function post(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
  timeoutMs = 15_000,
): Promise<{ ok: boolean; status: number; body: any; ms: number }> {
  const started = performance.now();
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body: any = await response.json().catch(() => null);
    return { ok: response.ok && !!body && !body.errors, status: response.status, body, ms: performance.now() - started };
  } catch (error) {
    return { ok: false, status: 0, body: { transport: String((error as Error).cause ?? error) }, ms: performance.now() - started };
  }
}

export const BATCH = `mutation($input: RecordPersonalDataBatchInput!) { recordPersonalDataBatch(input: $input) { count } }`;

/** The variables of batch `i`: `size` records marked with their batch and item, sent with `key`. */
export function batchVariables(tenant: { tenantId: string; subjectId: string }, i: number, size: number, key: string) {
  const records = Array.from({ length: size }, (_, k) => ({
    dataSubjectId: tenant.subjectId,
    category: "DEVICE",
    purposes: ["SERVICE_OPERATION"],
    value: { batch: i, item: k },
  }));
  return { input: { tenantId: tenant.tenantId, records, idempotencyKey: key } };
}

/**
 * A stream of batch ingests with idempotency keys, as an integration would send it: each batch
 * is retried with its key until acknowledged. `verify` checks what the database holds.
 */
export class BatchStream {
  readonly acknowledged = new Set<number>();
  operations = 0;
  errors = 0;
  firstAckAfter: number | null = null;
  private marker = 0;
  private readonly run = randomUUID().slice(0, 8);

  constructor(
    private url: () => string,
    readonly tenant: { tenantId: string; subjectId: string; token: string },
    readonly batches: number,
    readonly size = 10,
  ) {}

  /** Mark a moment (a kill); the first acknowledgement after it gives the recovery time. */
  markOutage(): void {
    this.marker = performance.now();
    this.firstAckAfter = null;
  }

  get recoverySeconds(): number | null {
    return this.firstAckAfter === null ? null : (this.firstAckAfter - this.marker) / 1000;
  }

  async send(i: number): Promise<boolean> {
    this.operations += 1;
    const result = await post(this.url(), this.tenant.token, BATCH, batchVariables(this.tenant, i, this.size, `drill-${this.run}-${i}`));
    if (result.ok && result.body.data.recordPersonalDataBatch.count === this.size) {
      this.acknowledged.add(i);
      if (this.marker && this.firstAckAfter === null) this.firstAckAfter = performance.now();
      return true;
    }
    this.errors += 1;
    return false;
  }

  /** Sends every batch once, `concurrency` at a time, pausing `pauseMs` between sends. */
  async pass(concurrency: number, pauseMs = 0): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < this.batches) {
          const i = next++;
          await this.send(i);
          if (pauseMs) await sleep(pauseMs);
        }
      }),
    );
  }

  /** Retries every unacknowledged batch with its key until acknowledged (bounded). */
  async retryUntilAcknowledged(deadlineMs: number): Promise<void> {
    const until = Date.now() + deadlineMs;
    while (this.acknowledged.size < this.batches && Date.now() < until) {
      for (let i = 0; i < this.batches; i++) if (!this.acknowledged.has(i)) await this.send(i);
      if (this.acknowledged.size < this.batches) await sleep(250);
    }
  }

  /** Lost: acknowledged but absent; duplicated: more rows than items; partial: a batch half written. */
  async verify(db: DrillDatabase): Promise<{ lost: number; duplicated: number; partial: number }> {
    const counts = new Map<number, number>();
    for (const batch of await db.batchesOf(this.tenant.tenantId)) counts.set(batch, (counts.get(batch) ?? 0) + 1);
    let lost = 0;
    let duplicated = 0;
    let partial = 0;
    for (const i of this.acknowledged) if (!counts.get(i)) lost += 1;
    for (const n of counts.values()) {
      if (n > this.size) duplicated += 1;
      else if (n !== this.size) partial += 1;
    }
    return { lost, duplicated, partial };
  }
}
