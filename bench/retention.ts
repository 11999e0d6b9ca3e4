import "reflect-metadata";
import { KeyRing } from "../src/modules/keys/key-ring";
import { randomUUID } from "node:crypto";
import { createDataSource } from "../ormconfig";
import { AuditSigner } from "../src/modules/audit/audit-signer";
import { freshDatabase } from "../scripts/fresh-database";
import { openMaintenancePool } from "../src/shared/db/pools";
import { AuditService } from "../src/modules/audit/audit.service";
import { RetentionService } from "../src/modules/retention/retention.service";
import { systemClock } from "../src/shared/clock";
import { createLogger } from "../src/shared/logging";
import { euRegionUrl, intFromEnv } from "./lib";

/**
 * Retention: BENCH_RECORDS records (default 1,000,000), of which BENCH_DUE (default: all) are
 * pending deletion and due, purged by the retention engine; then, in the same run, the same rows
 * deleted from a copy with one plain DELETE. With BENCH_DUE below BENCH_RECORDS the rest stay
 * active: how the purge's time grows with the table rather than with the rows it purges.
 * Reports both rows/s, their ratio and this process's RSS (idle and peak while purging).
 * The last line reads `ratio R`, R = engine rows/s / plain DELETE rows/s.
 */
async function main() {
  const tableRows = intFromEnv("BENCH_RECORDS", 1_000_000);
  const records = Math.min(tableRows, intFromEnv("BENCH_DUE", tableRows));
  const tenants = intFromEnv("BENCH_TENANTS", 10);
  const database = await freshDatabase("custodian_bench", createLogger("warn"));
  console.log(`# retention bench on ${database.description}: ${records} due of ${tableRows} records over ${tenants} tenants`);
  // Seeding a million rows and copying them is set-up, not a request: it must finish however busy
  // the machine is, so it runs without the service's statement timeouts (a busy machine once
  // cancelled its foreign-key checks). The engine runs as the service does, with them.
  const setup = createDataSource(euRegionUrl(database.url), { poolSize: 2, timeouts: false });
  await setup.initialize();
  const db = await openMaintenancePool(euRegionUrl(database.url), { poolSize: 4 });
  try {
    const perTenant = Math.ceil(tableRows / tenants);
    // The due records are spread evenly over the tenants and over each tenant's creation order.
    const dueEvery = tableRows / records;
    for (let t = 0; t < tenants; t++) {
      const tenantId = randomUUID();
      await setup.query(`INSERT INTO tenant (id, name, storage_location_code, created_at, updated_at) VALUES ($1, $2, 'EU', now(), now())`, [
        tenantId,
        `Bench ${t}`,
      ]);
      await setup.query(
        `INSERT INTO data_subject (id, tenant_id, external_id, created_at, updated_at)
         SELECT gen_random_uuid(), $1, 'ext-' || g, now(), now() FROM generate_series(1, 1000) g`,
        [tenantId],
      );
      await setup.query(
        `WITH s AS (SELECT array_agg(id) AS ids FROM data_subject WHERE tenant_id = $1)
         INSERT INTO personal_data_record (id, tenant_id, data_subject_id, category, purposes, storage_location_code, value, status,
                                           deletion_reason, deletion_requested_at, purge_due_at, created_at, updated_at)
         SELECT gen_random_uuid(), $1, s.ids[1 + g % 1000], 'DEVICE', '{SERVICE_OPERATION}', 'EU',
                jsonb_build_object('serialNumber', 'SN-' || g, 'model', 'Laptop 14'), CASE WHEN due THEN 'PENDING_DELETION' ELSE 'ACTIVE' END,
                CASE WHEN due THEN 'ACTIVE_DELETION' END, CASE WHEN due THEN now() - interval '40 days' END, CASE WHEN due THEN now() - interval '10 days' END,
                now() - interval '60 days', now() - interval '40 days'
           FROM s, generate_series(1, $2) g, LATERAL (SELECT floor(($4::bigint + g) / $3::float8) > floor(($4::bigint + g - 1) / $3::float8) AS due) d`,
        [tenantId, Math.min(perTenant, tableRows - t * perTenant), dueEvery, t * perTenant],
      );
    }
    await setup.query(`CREATE TABLE record_copy (LIKE personal_data_record INCLUDING ALL)`);
    await setup.query(`INSERT INTO record_copy SELECT * FROM personal_data_record`);
    await setup.query(`VACUUM ANALYZE personal_data_record`);
    await setup.query(`VACUUM ANALYZE record_copy`);

    global.gc?.();
    const idleRss = process.memoryUsage().rss;
    // RSS over the purge, not only its peak: flat means it does not grow with the rows purged.
    const trend: Array<{ at: number; rss: number }> = [];
    let started = process.hrtime.bigint();
    const sample = () => trend.push({ at: Number(process.hrtime.bigint() - started) / 1e9, rss: process.memoryUsage().rss });
    const sampler = setInterval(sample, 20);
    const run = await new RetentionService(
      db,
      systemClock,
      new AuditService(),
      AuditSigner.development("bench"),
      KeyRing.withoutMasterKey().shredder(null),
    ).run({ dryRun: false });
    const engineSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    clearInterval(sampler);
    sample();
    const peakRss = trend.reduce((peak, s) => Math.max(peak, s.rss), idleRss);
    if (run.recordsPurged !== records) throw new Error(`the engine purged ${run.recordsPurged} of ${records}`);

    started = process.hrtime.bigint();
    const deleted = await setup.query(`DELETE FROM record_copy WHERE status = 'PENDING_DELETION' AND purge_due_at <= $1`, [new Date()]);
    const directSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (deleted[1] !== records) throw new Error(`the plain DELETE removed ${deleted[1]} of ${records}`);

    const engineRate = records / engineSeconds;
    const directRate = records / directSeconds;
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
    console.log("path                               rows       seconds   rows/s");
    console.log(`retention engine (batches of 10k)  ${String(records).padEnd(10)} ${engineSeconds.toFixed(2).padEnd(9)} ${engineRate.toFixed(0)}`);
    console.log(`one plain DELETE on a copy         ${String(records).padEnd(10)} ${directSeconds.toFixed(2).padEnd(9)} ${directRate.toFixed(0)}`);
    console.log(`RSS idle ${mb(idleRss)}, peak while purging ${mb(peakRss)} (+${mb(peakRss - idleRss)})`);
    const tenths = rssByTenth(trend, engineSeconds);
    console.log(`RSS at each tenth of the purge (MB): ${tenths.map((b) => (b / 1048576).toFixed(0)).join(" ")}`);
    console.log(`ratio ${(engineRate / directRate).toFixed(3)}`);
    if (process.argv.includes("--json")) {
      const figures = { records, tableRows, engineSeconds, engineRowsPerSecond: engineRate, directRowsPerSecond: directRate, ratio: engineRate / directRate };
      console.log(JSON.stringify({ ...figures, idleRssMb: idleRss / 1048576, peakRssMb: peakRss / 1048576, rssByTenthMb: tenths.map((b) => b / 1048576) }));
    }
  } finally {
    await db.destroy();
    await setup.destroy();
    await database.drop();
  }
}

/** The highest RSS sampled in each tenth of the run's time (the last sample before it when a tenth has none). */
function rssByTenth(samples: ReadonlyArray<{ at: number; rss: number }>, seconds: number): number[] {
  const tenths: number[] = [];
  let last = samples[0]?.rss ?? 0;
  for (let i = 0; i < 10; i++) {
    const inside = samples.filter((s) => s.at >= (i * seconds) / 10 && s.at < ((i + 1) * seconds) / 10).map((s) => s.rss);
    if (inside.length) last = Math.max(...inside);
    tenths.push(last);
  }
  return tenths;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
