import { randomUUID } from "node:crypto";
import { Pool } from "pg";
import { freshDatabase } from "../scripts/fresh-database";
import { Role } from "../src/shared/auth/role";
import { signToken } from "../src/shared/auth/jwt";
import { createLogger } from "../src/shared/logging";
import { BENCH_SECRET, euRegionUrl, syncDirectory, procStatusBytes, startApi } from "./lib";

/**
 * Memory under the largest reads the cost limit lets through, against the API in its own
 * process: one subject holding 500 records of a 64 KiB value each. Six concurrent requests of
 * the red team's document (nine aliased pages of 500 values, 166 MB of answer), then six of the
 * most one request may read (one page of 500 values), then eight concurrent exports of the
 * subject. Reports what each was answered, the bytes answered, and the API's peak RSS (VmHWM)
 * after each phase. Before the cost of a value reflected its bytes, six of the first took the
 * process to 1.7 GB and eight exports to 1.8 GB.
 */
async function main() {
  const database = await freshDatabase("custodian_bench", createLogger("warn"));
  const pool = new Pool({ connectionString: euRegionUrl(database.url), max: 2 });
  pool.on("error", () => undefined);
  const api = await startApi(database.url);
  try {
    const tenantId = randomUUID();
    const subjectId = randomUUID();
    await pool.query(`INSERT INTO tenant (id, name, storage_location_code, created_at, updated_at) VALUES ($1, 'Memory', 'EU', now(), now())`, [tenantId]);
    await pool.query(`INSERT INTO data_subject (id, tenant_id, external_id, created_at, updated_at) VALUES ($1, $2, 'memory', now(), now())`, [
      subjectId,
      tenantId,
    ]);
    // 64 KiB of JSON per value: the largest a record may hold.
    const value = JSON.stringify({ blob: "x".repeat(64 * 1024 - 20) });
    await pool.query(
      `INSERT INTO personal_data_record (id, tenant_id, data_subject_id, category, purposes, storage_location_code, value, created_at, updated_at)
       SELECT gen_random_uuid(), $1, $2, 'DEVICE', '{SUPPORT}', 'EU', $3::jsonb, now(), now() FROM generate_series(1, 500)`,
      [tenantId, subjectId, value],
    );
    await syncDirectory(database.url);
    const admin = await signToken({ subject: "bench-admin", role: Role.TENANT_ADMIN, tenantId }, BENCH_SECRET);
    const post = async (query: string, variables: Record<string, unknown>) => {
      const response = await fetch(api.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
        body: JSON.stringify({ query, variables }),
      });
      const text = await response.text();
      let code = "ok";
      try {
        code = (JSON.parse(text) as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.[0]?.extensions?.code ?? "ok";
      } catch {
        code = "unreadable";
      }
      return { status: response.status, code, bytes: text.length };
    };
    const page = (alias: string) => `${alias}: tenant(id: $id) { personalDataRecords(first: 500) { nodes { value(purpose: SUPPORT) } } }`;
    const phases: Array<[string, number, string, Record<string, unknown>]> = [
      ["6 × nine aliased pages of 500 values", 6, `query($id: ID!) { ${Array.from({ length: 9 }, (_, i) => page(`p${i}`)).join(" ")} }`, { id: tenantId }],
      ["6 × one page of 500 values", 6, `query($id: ID!) { ${page("p")} }`, { id: tenantId }],
      ["8 × an export of the subject", 8, `query($id: ID!) { exportDataSubject(id: $id, onRequest: "BENCH-1") { generatedAt document } }`, { id: subjectId }],
    ];
    console.log(`# API RSS at rest ${Math.round(procStatusBytes(api.child.pid!, "VmRSS") / 1e6)} MB`);
    for (const [name, count, query, variables] of phases) {
      const answers = await Promise.all(Array.from({ length: count }, () => post(query, variables)));
      const summary = new Map<string, number>();
      for (const a of answers) summary.set(`HTTP ${a.status} ${a.code}`, (summary.get(`HTTP ${a.status} ${a.code}`) ?? 0) + 1);
      const answered = answers.reduce((sum, a) => sum + a.bytes, 0);
      console.log(
        `${`${name}:`.padEnd(40)} ${[...summary].map(([k, n]) => `${n}× ${k}`).join(", ")}; ${Math.round(answered / 1e6)} MB answered; ` +
          `API peak RSS so far ${Math.round(procStatusBytes(api.child.pid!, "VmHWM") / 1e6)} MB`,
      );
    }
  } finally {
    await pool.end();
    await api.stop();
    await database.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
