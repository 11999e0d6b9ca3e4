import { randomUUID } from "node:crypto";
import { Pool } from "pg";
import { freshDatabase } from "../scripts/fresh-database";
import { Role } from "../src/shared/auth/role";
import { signToken } from "../src/shared/auth/jwt";
import { createLogger } from "../src/shared/logging";
import { BENCH_SECRET, euRegionUrl, syncDirectory, intFromEnv, startApi } from "./lib";

/**
 * Reads: a tenant administrator's page of 20 records with their subjects, BENCH_CONCURRENCY (20)
 * at a time for BENCH_SECONDS (10), against the API in its own process. Reports req/s and p99.
 */
const PAGE = `query($id: ID!) { tenant(id: $id) { personalDataRecords(first: 20) { totalCount nodes { id category status subject { id externalId } } } } }`;

async function main() {
  const concurrency = intFromEnv("BENCH_CONCURRENCY", 20);
  const seconds = intFromEnv("BENCH_SECONDS", 10);
  const database = await freshDatabase("custodian_bench", createLogger("warn"));
  const pool = new Pool({ connectionString: euRegionUrl(database.url), max: 2 });
  pool.on("error", () => undefined);
  const api = await startApi(database.url);
  try {
    const tenants: string[] = [];
    for (let t = 0; t < 20; t++) {
      const id = randomUUID();
      tenants.push(id);
      await pool.query(`INSERT INTO tenant (id, name, storage_location_code, created_at, updated_at) VALUES ($1, $2, 'EU', now(), now())`, [id, `Bench ${t}`]);
      await pool.query(
        `INSERT INTO data_subject (id, tenant_id, external_id, created_at, updated_at) SELECT gen_random_uuid(), $1, 'ext-' || g, now(), now() FROM generate_series(1, 100) g`,
        [id],
      );
      await pool.query(
        `WITH s AS (SELECT array_agg(id) AS ids FROM data_subject WHERE tenant_id = $1)
         INSERT INTO personal_data_record (id, tenant_id, data_subject_id, category, purposes, storage_location_code, value, created_at, updated_at)
         SELECT gen_random_uuid(), $1, s.ids[1 + g % 100], 'DEVICE', '{SUPPORT}', 'EU', '{"v": 1}', now(), now() FROM s, generate_series(1, 1000) g`,
        [id],
      );
    }
    await syncDirectory(database.url);
    const tokens = await Promise.all(tenants.map((tenantId) => signToken({ subject: "bench-admin", role: Role.TENANT_ADMIN, tenantId }, BENCH_SECRET)));
    const latencies: number[] = [];
    const deadline = Date.now() + seconds * 1000;
    let errors = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        for (let i = worker; Date.now() < deadline; i += concurrency) {
          const started = performance.now();
          const response = await fetch(api.url, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${tokens[i % tokens.length]}` },
            body: JSON.stringify({ query: PAGE, variables: { id: tenants[i % tenants.length] } }),
          });
          const body: any = await response.json();
          if (body.errors || body.data?.tenant?.personalDataRecords?.nodes?.length !== 20) errors += 1;
          latencies.push(performance.now() - started);
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(1);
    console.log(
      `reads: ${(latencies.length / seconds).toFixed(0)} req/s, p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, ${errors} errors (${latencies.length} requests, concurrency ${concurrency})`,
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
