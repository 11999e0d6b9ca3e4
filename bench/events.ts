import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Pool } from "pg";
import { Webhook } from "standardwebhooks";
import { freshDatabase } from "../scripts/fresh-database";
import { Role } from "../src/shared/auth/role";
import { signToken } from "../src/shared/auth/jwt";
import { createLogger } from "../src/shared/logging";
import { BENCH_SECRET, euRegionUrl, gql, intFromEnv, postgresCpuByKind, postgresCpuMs, processCpuMs, startApi, syncDirectory, timed } from "./lib";

/**
 * Events: BENCH_EVENTS committed openSubjectRequest mutations (default 10,000), paced at
 * BENCH_RATE per second (200), each delivered as a signed webhook to a receiver on loopback that
 * verifies it with the standardwebhooks package. Prints events/s delivered and p50/p99 from the
 * mutation's answer (its commit) to the verified delivery; then the same mutations' req/s at
 * full speed with the endpoint enabled and disabled, alternating runs (BENCH_RUNS of each, 5:
 * single runs vary by 10-20% on a busy 2-core machine), the order reversed every other round.
 * BENCH_STATEMENTS=1 adds where PostgreSQL's time went in each kind of run (pg_stat_statements)
 * and the outbox tables' row counts (how many updates were HOT).
 */
const OPEN = `mutation($input: OpenSubjectRequestInput!) { openSubjectRequest(input: $input) { id } }`;
const CREATE = `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id } } }`;

interface Cpu {
  api: number;
  postgres: number;
  bench: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const events = intFromEnv("BENCH_EVENTS", 10_000);
  const rate = intFromEnv("BENCH_RATE", 200);
  const runs = intFromEnv("BENCH_RUNS", 5);
  const perRun = intFromEnv("BENCH_RUN_REQUESTS", 1500);
  const concurrency = intFromEnv("BENCH_CONCURRENCY", 20);
  // BENCH_STATEMENTS=1: where PostgreSQL's time goes with the endpoint and without (pg_stat_statements).
  const statements = process.env.BENCH_STATEMENTS === "1";
  const database = await freshDatabase("custodian_bench", createLogger("warn"), statements ? { shared_preload_libraries: "pg_stat_statements" } : undefined);
  console.log(
    `# events bench on ${database.description}: ${events} events at ${rate}/s, then ${runs} x 2 alternating runs of ${perRun} at concurrency ${concurrency}`,
  );

  // The receiver: verifies each delivery, notes when the first one of each event arrived.
  const hooks = new Map<string, Webhook>();
  const arrived = new Map<string, number>();
  let duplicates = 0;
  let unverified = 0;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        const body = Buffer.concat(chunks).toString("utf8");
        const tenantId = (JSON.parse(body) as { data: { tenantId: string } }).data.tenantId;
        const payload = hooks.get(tenantId)!.verify(body, req.headers as Record<string, string>) as { data: { requestId: string } };
        if (arrived.has(payload.data.requestId)) duplicates++;
        else arrived.set(payload.data.requestId, performance.now());
        res.writeHead(204).end();
      } catch {
        unverified++;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((ok) => receiver.listen(0, "127.0.0.1", ok));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const pool = new Pool({ connectionString: euRegionUrl(database.url), max: 4 });
  pool.on("error", () => undefined);
  const control = new Pool({ connectionString: database.url, max: 1 });
  control.on("error", () => undefined);
  // Development mode: the receiver is on loopback, which production refuses.
  const api = await startApi(database.url, { NODE_ENV: "development", WEBHOOK_ALLOW_PRIVATE_NETWORKS: "1", RETENTION_INTERVAL: "off" });
  try {
    // Requests spread over BENCH_TENANTS tenants (10), as a service's load is (each tenant's audit
    // chain takes its entries one at a time); each tenant has its endpoint, with its own secret,
    // to the same receiver, and 20 administrators (one principal holds only its share of the connections).
    const tenantCount = intFromEnv("BENCH_TENANTS", 10);
    const tenants = Array.from({ length: tenantCount }, () => randomUUID());
    const subjects = Array.from({ length: events + 2 * runs * perRun + 10 }, () => randomUUID());
    const admins: string[][] = [];
    const endpoints: Array<{ id: string; token: string }> = [];
    for (const [t, tenantId] of tenants.entries()) {
      await pool.query(`INSERT INTO tenant (id, name, storage_location_code, created_at, updated_at) VALUES ($1, $2, 'EU', now(), now())`, [
        tenantId,
        `Events bench ${t}`,
      ]);
      await pool.query(
        `INSERT INTO data_subject (id, tenant_id, external_id, created_at, updated_at) SELECT id, $1, 'ext-' || id, now(), now() FROM unnest($2::uuid[]) AS id`,
        [tenantId, subjects.filter((_, i) => i % tenantCount === t)],
      );
      admins.push(
        await Promise.all(Array.from({ length: 20 }, (_, a) => signToken({ subject: `bench-admin-${a}`, role: Role.TENANT_ADMIN, tenantId }, BENCH_SECRET))),
      );
    }
    await syncDirectory(database.url);
    if (statements) await control.query(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`);
    const statementTimes = async () => {
      const { rows } = await control.query<{ query: string; calls: string; ms: number }>(
        `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query, sum(calls) AS calls, sum(total_exec_time) AS ms FROM pg_stat_statements GROUP BY 1`,
      );
      return new Map(rows.map((r) => [r.query, { calls: Number(r.calls), ms: r.ms }]));
    };
    // Per statement, its time and calls summed over the runs of each kind (their deliveries included).
    const spent = { with: new Map<string, { calls: number; ms: number }>(), without: new Map<string, { calls: number; ms: number }>() };
    // PostgreSQL's CPU by kind of process, summed the same way.
    const byKind = { with: new Map<string, number>(), without: new Map<string, number>() };
    for (const [t, tenantId] of tenants.entries()) {
      const created = (await gql(api.url, admins[t][0], CREATE, { input: { url: receiverUrl, eventTypes: ["SUBJECT_REQUEST_OPENED"] } })).createWebhookEndpoint;
      hooks.set(tenantId, new Webhook(created.secret));
      endpoints.push({ id: created.endpoint.id, token: admins[t][0] });
    }
    let next = 0;
    let retried = 0;
    // Events opened while the endpoint is enabled: each is delivered once.
    let deliverable = 0;
    let enabledNow = true;
    const open = async () => {
      if (enabledNow) deliverable++;
      const i = next++;
      for (;;) {
        try {
          const admin = admins[i % tenantCount][Math.floor(i / tenantCount) % 20];
          const data = await gql(api.url, admin, OPEN, { input: { dataSubjectId: subjects[i], kind: "ACCESS" } });
          return data.openSubjectRequest.id as string;
        } catch (error) {
          // An overloaded API tells the client to retry (RATE_LIMITED, or a retryable wait for a
          // connection): it does, and the retries are counted.
          if (!/RATE_LIMITED|"retryable":true/.test(String(error))) throw error;
          retried++;
          await new Promise((ok) => setTimeout(ok, 20));
        }
      }
    };

    // Warm-up (not counted).
    for (let i = 0; i < 10; i++) await open();

    // 1. Paced: commit -> verified delivery.
    const committed = new Map<string, number>();
    const started = performance.now();
    const inFlight: Array<Promise<void>> = [];
    const failures: unknown[] = [];
    const maxInFlight = intFromEnv("BENCH_MAX_IN_FLIGHT", 40);
    let open_ = 0;
    for (let i = 0; i < events; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
      // At most BENCH_MAX_IN_FLIGHT requests open: past what the API sustains, the offered rate falls behind (and is reported).
      while (open_ > maxInFlight) await new Promise((ok) => setTimeout(ok, 2));
      open_++;
      // Settled here, so a failure waits for Promise.all below instead of ending the process.
      inFlight.push(
        open()
          .then((id) => void committed.set(id, performance.now()))
          .catch((error: unknown) => void failures.push(error))
          .finally(() => open_--),
      );
    }
    await Promise.all(inFlight);
    if (failures.length) throw failures[0];
    const offeredSeconds = (performance.now() - started) / 1000;
    const deadline = performance.now() + 60_000;
    while ([...committed.keys()].some((id) => !arrived.has(id)) && performance.now() < deadline) await new Promise((ok) => setTimeout(ok, 100));
    const lastArrival = Math.max(...[...committed.keys()].map((id) => arrived.get(id) ?? 0));
    const latencies = [...committed].map(([id, at]) => Math.max(0, (arrived.get(id) ?? Infinity) - at)).sort((a, b) => a - b);
    const missing = latencies.filter((l) => !Number.isFinite(l)).length;
    console.log(
      `delivered     ${events - missing} of ${events} (${duplicates} duplicates, ${unverified} unverified; ${retried} requests retried after a retryable refusal)`,
    );
    console.log(
      `events/s      ${((events - missing) / ((lastArrival - started) / 1000)).toFixed(0)} delivered (asked ${rate}/s, committed ${(events / offeredSeconds).toFixed(0)}/s)`,
    );
    console.log(
      `commit->delivery p50 ${percentile(latencies, 50).toFixed(1)} ms  p99 ${percentile(latencies, 99).toFixed(1)} ms  max ${latencies.at(-1)!.toFixed(1)} ms`,
    );

    // 2. The mutations' own speed, with the endpoint subscribed and without, alternating.
    const withEndpoint: number[] = [];
    const without: number[] = [];
    // CPU per mutation of each run, in ms: the API, PostgreSQL, this process (the clients and the receiver).
    const cpuWith: Cpu[] = [];
    const cpuWithout: Cpu[] = [];
    const cpuNow = (): Cpu => {
      const own = process.cpuUsage();
      return { api: processCpuMs(api.child.pid!), postgres: postgresCpuMs(), bench: (own.user + own.system) / 1000 };
    };
    for (let run = 0; run < runs; run++) {
      // The order turns every other round: a run right after the other kind's (its deliveries, the
      // vacuum its writes call for) falls on both alike.
      for (const enabled of run % 2 ? [false, true] : [true, false]) {
        for (const e of endpoints)
          await gql(api.url, e.token, `mutation($id: ID!) { ${enabled ? "enable" : "disable"}WebhookEndpoint(endpointId: $id) { id } }`, { id: e.id });
        enabledNow = enabled;
        const statementsBefore = statements ? await statementTimes() : null;
        const kindsBefore = statements ? postgresCpuByKind() : null;
        const before = cpuNow();
        const seconds = await timed(
          Array.from({ length: perRun }, () => open),
          concurrency,
        );
        const after = cpuNow();
        (enabled ? withEndpoint : without).push(perRun / seconds);
        (enabled ? cpuWith : cpuWithout).push({
          api: (after.api - before.api) / perRun,
          postgres: (after.postgres - before.postgres) / perRun,
          bench: (after.bench - before.bench) / perRun,
        });
        // The next run starts when this one's deliveries are done: each run pays for its own.
        const until = performance.now() + 60_000;
        while (enabled && arrived.size < deliverable && performance.now() < until) await new Promise((ok) => setTimeout(ok, 50));
        if (kindsBefore) {
          const into = enabled ? byKind.with : byKind.without;
          for (const [kind, ms] of postgresCpuByKind()) into.set(kind, (into.get(kind) ?? 0) + ms - (kindsBefore.get(kind) ?? 0));
        }
        if (statementsBefore) {
          const into = enabled ? spent.with : spent.without;
          for (const [query, now] of await statementTimes()) {
            const was = statementsBefore.get(query) ?? { calls: 0, ms: 0 };
            const sum = into.get(query) ?? { calls: 0, ms: 0 };
            into.set(query, { calls: sum.calls + now.calls - was.calls, ms: sum.ms + now.ms - was.ms });
          }
        }
      }
    }
    const [w, n] = [median(withEndpoint), median(without)];
    const fmt = (xs: number[]) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;
    console.log(
      `openSubjectRequest req/s  with endpoint ${w.toFixed(0)} (${fmt(withEndpoint)})  without ${n.toFixed(0)} (${fmt(without)})  ratio ${(w / n).toFixed(3)}`,
    );
    const cpu = (xs: Cpu[]) =>
      `API ${median(xs.map((x) => x.api)).toFixed(2)}, PostgreSQL ${median(xs.map((x) => x.postgres)).toFixed(2)}, bench ${median(xs.map((x) => x.bench)).toFixed(2)}`;
    console.log(`CPU per mutation (ms, medians)  with endpoint: ${cpu(cpuWith)}  without: ${cpu(cpuWithout)}`);
    if (statements) {
      // Per mutation: each kind ran runs x perRun of them.
      const n = runs * perRun;
      // The statements whose time differs most.
      const rows = [...new Set([...spent.with.keys(), ...spent.without.keys()])]
        .map((query) => {
          const w = spent.with.get(query) ?? { calls: 0, ms: 0 };
          const o = spent.without.get(query) ?? { calls: 0, ms: 0 };
          return { query, w, o, delta: (w.ms - o.ms) / n };
        })
        .sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta))
        .slice(0, 15);
      const { rows: tables } = await pool.query(
        `SELECT relname, n_tup_ins AS inserted, n_tup_upd AS updated, n_tup_hot_upd AS hot, autovacuum_count AS vacuums, autoanalyze_count AS analyzes
           FROM pg_stat_user_tables WHERE relname IN ('event', 'webhook_delivery') ORDER BY relname`,
      );
      console.log(`tables (EU region): ${JSON.stringify(tables)}`);
      console.log(`PostgreSQL CPU per mutation by process (ms, a run and its deliveries): with, without, difference`);
      for (const kind of [...new Set([...byKind.with.keys(), ...byKind.without.keys()])].sort()) {
        const [w, o] = [(byKind.with.get(kind) ?? 0) / n, (byKind.without.get(kind) ?? 0) / n];
        if (w || o) console.log(`  ${w.toFixed(3)} ${o.toFixed(3)} ${w - o >= 0 ? "+" : ""}${(w - o).toFixed(3)}  ${kind}`);
      }
      console.log(`PostgreSQL execution per mutation (ms): with, without, difference; calls per mutation with, without`);
      for (const r of rows)
        console.log(
          `  ${(r.w.ms / n).toFixed(3)} ${(r.o.ms / n).toFixed(3)} ${r.delta >= 0 ? "+" : ""}${r.delta.toFixed(3)}  ${(r.w.calls / n).toFixed(2)} ${(r.o.calls / n).toFixed(2)}  ${r.query}`,
        );
    }
    if (process.argv.includes("--json")) {
      console.log(
        JSON.stringify({ events, rate, missing, duplicates, p50: percentile(latencies, 50), p99: percentile(latencies, 99), withEndpoint: w, without: n }),
      );
    }
  } finally {
    await api.stop();
    await pool.end();
    await control.end();
    receiver.close();
    await database.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
