import { randomUUID } from "node:crypto";
import { Pool } from "pg";
import { freshDatabase } from "../scripts/fresh-database";
import { Role } from "../src/shared/auth/role";
import { signToken } from "../src/shared/auth/jwt";
import { createLogger } from "../src/shared/logging";
import { datasetSize, seedDataset } from "./dataset";
import { BENCH_SECRET, euRegionUrl, syncDirectory, gql, intFromEnv, postgresCpuMs, processCpuMs, sealSeededData, startApi, timed } from "./lib";

/**
 * Ingest: BENCH_RECORDS records (default 100,000) through recordPersonalDataBatch, BENCH_BATCH
 * per request (1,000), BENCH_CONCURRENCY requests at a time (4); then, in the same run on the
 * same database, the same rows through multi-row INSERTs with pg at the same concurrency.
 * With BENCH_SCALE, both go into tables that already hold the read benches' dataset of that scale.
 * The last line reads `ratio R`, R = API rows/s / direct rows/s.
 */
const BATCH = `mutation($input: RecordPersonalDataBatchInput!) { recordPersonalDataBatch(input: $input) { count } }`;
const COLUMNS = [
  "id",
  "tenant_id",
  "data_subject_id",
  "category",
  "purposes",
  "storage_location_code",
  "value",
  "status",
  "version",
  "created_at",
  "updated_at",
];

function item(i: number, subjects: string[]) {
  return {
    dataSubjectId: subjects[i % subjects.length],
    category: "DEVICE",
    purposes: ["SERVICE_OPERATION", "SECURITY"],
    value: { serialNumber: `SN-${String(i).padStart(8, "0")}`, model: "Laptop 14", osVersion: "14.4.1", compliant: i % 7 !== 0 },
  };
}

async function main() {
  const records = intFromEnv("BENCH_RECORDS", 100_000);
  const batchSize = Math.min(intFromEnv("BENCH_BATCH", 1000), 1000);
  const concurrency = intFromEnv("BENCH_CONCURRENCY", 4);
  const batches = Math.ceil(records / batchSize);
  const database = await freshDatabase("custodian_bench", createLogger("warn"));
  console.log(`# ingest bench on ${database.description}: ${records} records, ${batchSize} per batch, concurrency ${concurrency}`);
  const pool = new Pool({ connectionString: euRegionUrl(database.url), max: concurrency });
  // The database goes away at the end of the run; an idle client hearing that is no failure.
  pool.on("error", () => undefined);
  // BENCH_SCALE: the ingest goes into tables that already hold the read benches' dataset of that
  // scale (sealed, with its keys), as a service's do; without it, into empty ones.
  const scale = process.env.BENCH_SCALE ? Number(process.env.BENCH_SCALE) : 0;
  const existing = scale > 0 ? datasetSize(scale) : null;
  if (existing) {
    const started = Date.now();
    const control = new Pool({ connectionString: database.url, max: 2 });
    try {
      await seedDataset({ control, regions: [{ code: "EU", pool }] }, existing);
    } finally {
      await control.end();
    }
    await sealSeededData(database.url);
    console.log(
      `# tables already holding ${existing.records} records of ${existing.tenants} tenants (seeded in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  }
  const api = await startApi(database.url);
  try {
    // Two tenants, 1,000 subjects each: one is loaded through the API, the other directly.
    const tenants = [randomUUID(), randomUUID()];
    const subjects: string[][] = [[], []];
    for (const [t, tenantId] of tenants.entries()) {
      await pool.query(`INSERT INTO tenant (id, name, storage_location_code, created_at, updated_at) VALUES ($1, $2, 'EU', now(), now())`, [
        tenantId,
        `Bench ${t}`,
      ]);
      const ids = Array.from({ length: 1000 }, () => randomUUID());
      await pool.query(
        `INSERT INTO data_subject (id, tenant_id, external_id, created_at, updated_at) SELECT id, $1, 'ext-' || id, now(), now() FROM unnest($2::uuid[]) AS id`,
        [tenantId, ids],
      );
      subjects[t] = ids;
    }
    await syncDirectory(database.url);
    const token = await signToken({ subject: "bench-integration", role: Role.INTEGRATION, tenantId: tenants[0] }, BENCH_SECRET);
    const apiBatch = (b: number) => () =>
      gql(api.url, token, BATCH, {
        input: {
          tenantId: tenants[0],
          records: Array.from({ length: Math.min(batchSize, records - b * batchSize) }, (_, k) => item(b * batchSize + k, subjects[0])),
        },
      });
    const directBatch = (b: number) => () => {
      const count = Math.min(batchSize, records - b * batchSize);
      const params: unknown[] = [];
      const rows: string[] = [];
      const now = new Date();
      for (let k = 0; k < count; k++) {
        const it = item(b * batchSize + k, subjects[1]);
        const base = params.length;
        params.push(randomUUID(), tenants[1], it.dataSubjectId, it.category, it.purposes, "EU", JSON.stringify(it.value), "ACTIVE", 1, now, now);
        rows.push(`(${COLUMNS.map((_, c) => `$${base + c + 1}`).join(", ")})`);
      }
      return pool.query(`INSERT INTO personal_data_record (${COLUMNS.join(", ")}) VALUES ${rows.join(", ")}`, params);
    };

    // Warm-up of both paths (not counted): JIT, plans, connections.
    await gql(api.url, token, BATCH, { input: { tenantId: tenants[0], records: [item(0, subjects[0])] } });
    await pool.query("DELETE FROM personal_data_record WHERE tenant_id = ANY($1::uuid[])", [tenants]);
    // CPU of the API and of PostgreSQL over each path: on 2 cores it is what decides rows/s.
    const cpu = () => ({ api: processCpuMs(api.child.pid!), postgres: postgresCpuMs() });
    const apiStart = cpu();
    const apiSeconds = await timed(
      Array.from({ length: batches }, (_, b) => apiBatch(b)),
      concurrency,
    );
    const apiEnd = cpu();
    const directSeconds = await timed(
      Array.from({ length: batches }, (_, b) => directBatch(b)),
      concurrency,
    );
    const directEnd = cpu();
    const per1000 = (ms: number) => ((ms * 1000) / records).toFixed(0).padStart(5);
    const [{ api: apiRows, direct: directRows }] = (
      await pool.query(
        `SELECT count(*) FILTER (WHERE tenant_id = $1)::int AS api, count(*) FILTER (WHERE tenant_id = $2)::int AS direct FROM personal_data_record`,
        tenants,
      )
    ).rows;
    if (apiRows !== records || directRows !== records) throw new Error(`expected ${records} rows each, found ${apiRows} (API) and ${directRows} (direct)`);
    const apiRate = records / apiSeconds;
    const directRate = records / directSeconds;
    console.log("path                          rows      seconds   rows/s   CPU ms per 1,000 rows: API  PostgreSQL");
    console.log(
      `API recordPersonalDataBatch   ${String(records).padEnd(9)} ${apiSeconds.toFixed(2).padEnd(9)} ${apiRate.toFixed(0).padEnd(8)}` +
        ` ${" ".repeat(22)}${per1000(apiEnd.api - apiStart.api)}  ${per1000(apiEnd.postgres - apiStart.postgres)}`,
    );
    console.log(
      `pg multi-row INSERT           ${String(records).padEnd(9)} ${directSeconds.toFixed(2).padEnd(9)} ${directRate.toFixed(0).padEnd(8)}` +
        ` ${" ".repeat(22)}    -  ${per1000(directEnd.postgres - apiEnd.postgres)}`,
    );
    console.log(`ratio ${(apiRate / directRate).toFixed(3)}`);
    if (process.argv.includes("--json"))
      console.log(
        JSON.stringify({
          records,
          existingRecords: existing?.records ?? 0,
          apiRowsPerSecond: apiRate,
          directRowsPerSecond: directRate,
          ratio: apiRate / directRate,
        }),
      );
  } finally {
    await api.stop();
    await pool.end();
    await database.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
