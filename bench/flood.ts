import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { freshDatabase } from "../scripts/fresh-database";
import { Role } from "../src/shared/auth/role";
import { signToken } from "../src/shared/auth/jwt";
import { createLogger } from "../src/shared/logging";
import { BENCH_SECRET, euRegionUrl, syncDirectory, intFromEnv, startApi } from "./lib";

/**
 * One tenant's auditor floods the API with verifications of a long chain, as the red team did
 * (12 concurrent requests, each 15 aliased verifyAuditLog, on a 31,000-entry chain; then 12
 * concurrent single full verifications), while another tenant's administrator reads its tenant
 * every 20 ms. Reports the probe's latency quietly and under each flood, its failures, and what
 * the flood was answered. Before, the flood held every connection for about two minutes and every
 * other caller was told the database was unavailable. AUDIT_ENTRIES (31000), BENCH_SECONDS (10).
 */
async function main() {
  const seconds = intFromEnv("BENCH_SECONDS", 10);
  const entries = intFromEnv("AUDIT_ENTRIES", 31_000);
  const database = await freshDatabase("custodian_bench", createLogger("warn"));
  const owner = new Client({ connectionString: euRegionUrl(database.url) });
  await owner.connect();
  const [flooded, probed] = [randomUUID(), randomUUID()];
  for (const id of [flooded, probed]) {
    await owner.query(`INSERT INTO tenant (id, name, storage_location_code, created_at, updated_at) VALUES ($1, $2, 'EU', now(), now())`, [
      id,
      `Flood ${id.slice(0, 8)}`,
    ]);
  }
  // The trigger links each entry into the chain, as the service's own appends are; 1,000 per
  // transaction (one transaction updating the head row 31,000 times slows down quadratically).
  for (let done = 0; done < entries; done += 1000) {
    await owner.query(
      `INSERT INTO audit_log (tenant_id, occurred_at, actor, actor_role, action, outcome)
       SELECT $1, now(), 'bench', 'TENANT_ADMIN', 'RECORD_VALUE_READ', 'ALLOWED' FROM generate_series(1, $2)`,
      [flooded, Math.min(1000, entries - done)],
    );
  }
  await owner.end();
  await syncDirectory(database.url);
  const api = await startApi(database.url);
  try {
    const auditor = await signToken({ subject: "bench-auditor", role: Role.AUDITOR, tenantId: flooded }, BENCH_SECRET);
    const admin = await signToken({ subject: "bench-admin", role: Role.TENANT_ADMIN, tenantId: probed }, BENCH_SECRET);
    const post = async (token: string, query: string, variables: Record<string, unknown>) => {
      const response = await fetch(api.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json().catch(() => null)) as { errors?: Array<{ extensions?: { code?: string } }> } | null;
      return { status: response.status, code: body?.errors?.[0]?.extensions?.code ?? "ok" };
    };
    const probe = async (until: number) => {
      const latencies: number[] = [];
      const failures = new Map<string, number>();
      while (Date.now() < until) {
        const started = performance.now();
        const answer = await post(admin, `query($id: ID!) { tenant(id: $id) { id name } }`, { id: probed });
        latencies.push(performance.now() - started);
        if (answer.code !== "ok") failures.set(answer.code, (failures.get(answer.code) ?? 0) + 1);
        await new Promise((ok) => setTimeout(ok, 20));
      }
      return { latencies: latencies.sort((a, b) => a - b), failures };
    };
    const summary = ({ latencies, failures }: Awaited<ReturnType<typeof probe>>) => {
      const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(1);
      const failed = [...failures].map(([code, n]) => `${n}× ${code}`).join(", ") || "none failed";
      return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms (${latencies.length} probes, ${failed})`;
    };

    console.log(`# ${entries} entries in the flooded chain`);
    console.log(`quiet:                          ${summary(await probe(Date.now() + seconds * 1000))}`);
    const aliased = `query($id: ID!) { ${Array.from({ length: 15 }, (_, i) => `v${i}: verifyAuditLog(tenantId: $id, full: true) { valid entriesChecked }`).join(" ")} }`;
    const single = `query($id: ID!) { verifyAuditLog(tenantId: $id, full: true) { valid entriesChecked } }`;
    for (const [name, query] of [
      ["12 × 15 aliased verifications", aliased],
      ["12 × one full verification", single],
    ] as const) {
      const until = Date.now() + seconds * 1000;
      const answers = new Map<string, number>();
      const flood = Array.from({ length: 12 }, async () => {
        while (Date.now() < until) {
          const { status, code } = await post(auditor, query, { id: flooded });
          const key = `HTTP ${status} ${code}`;
          answers.set(key, (answers.get(key) ?? 0) + 1);
        }
      });
      const [probeResult] = await Promise.all([probe(until), ...flood]);
      console.log(`${`${name}:`.padEnd(32)}${summary(probeResult)}`);
      console.log(`  flood answered: ${[...answers].map(([k, n]) => `${n}× ${k}`).join(", ")}`);
    }
  } finally {
    await api.stop();
    await database.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
