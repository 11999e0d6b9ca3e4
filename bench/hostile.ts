import { freshDatabase } from "../scripts/fresh-database";
import { Role } from "../src/shared/auth/role";
import { signToken } from "../src/shared/auth/jwt";
import { createLogger } from "../src/shared/logging";
import { BENCH_SECRET, intFromEnv, startApi } from "./lib";

/**
 * Hostile requests against the API in its own process: how long a small request sent alongside
 * waits. One attacker at a time sends, back to back, each of the bodies that once blocked the
 * event loop for seconds (450,000 unused variables in 7.4 MB, a variable nested 10,000 deep),
 * anonymously, then with a token; meanwhile a probe sends `{ __typename }` every 20 ms. Reports
 * the probe's latency quietly and under each attack (p50, p99, max) and what the attacks were
 * answered. The last line reads `max M ms`: the probe's slowest answer under anonymous attack.
 * BENCH_SECONDS (10) per phase.
 */
async function main() {
  const seconds = intFromEnv("BENCH_SECONDS", 10);
  const database = await freshDatabase("custodian_bench", createLogger("warn"));
  const api = await startApi(database.url);
  try {
    const token = await signToken({ subject: "bench-operator", role: Role.OPERATOR }, BENCH_SECRET);
    const manyKeys = JSON.stringify({ query: "{ __typename }", variables: Object.fromEntries(Array.from({ length: 450_000 }, (_, i) => [`k${i}`, 1])) });
    const deep = `{"query":"{ __typename }","variables":{"d":${"[".repeat(10_000)}"x"${"]".repeat(10_000)}}}`;
    const attacks = [
      { name: "450,000 variables, anonymous", body: manyKeys, token: null },
      { name: "450,000 variables, with a token", body: manyKeys, token },
      { name: "10,000 levels, anonymous", body: deep, token: null },
      { name: "10,000 levels, with a token", body: deep, token },
    ];
    const post = async (body: string, bearer: string | null) => {
      const response = await fetch(api.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
        body,
      });
      await response.arrayBuffer();
      return response.status;
    };
    const probe = async (until: number) => {
      const latencies: number[] = [];
      while (Date.now() < until) {
        const started = performance.now();
        await post(`{"query":"{ __typename }"}`, null);
        latencies.push(performance.now() - started);
        await new Promise((ok) => setTimeout(ok, 20));
      }
      return latencies.sort((a, b) => a - b);
    };
    const summary = (xs: number[]) => {
      const at = (q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))].toFixed(1);
      return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${xs[xs.length - 1].toFixed(1)} ms (${xs.length} probes)`;
    };

    const quiet = await probe(Date.now() + seconds * 1000);
    console.log(`quiet:                  ${summary(quiet)}`);
    // Anonymous attackers first (what anyone on the network can send), then callers with a token
    // (accountable and rate-limited, but their body limit is BODY_LIMIT_BYTES, 8 MiB by default).
    let anonymousMax = 0;
    for (const anonymous of [true, false]) {
      const phase = attacks.filter((a) => (a.token === null) === anonymous);
      const statuses = new Map<string, Map<number, number>>();
      const until = Date.now() + seconds * 1000;
      const attacker = async () => {
        for (let i = 0; Date.now() < until; i++) {
          const attack = phase[i % phase.length];
          const status = await post(attack.body, attack.token);
          const counts = statuses.get(attack.name) ?? new Map<number, number>();
          counts.set(status, (counts.get(status) ?? 0) + 1);
          statuses.set(attack.name, counts);
        }
      };
      const [latencies] = await Promise.all([probe(until), attacker()]);
      if (anonymous) anonymousMax = latencies[latencies.length - 1];
      console.log(`${anonymous ? "anonymous attacks:     " : "attacks with a token:  "} ${summary(latencies)}`);
      for (const [name, counts] of statuses) console.log(`  ${name}: ${[...counts].map(([status, n]) => `${n}× HTTP ${status}`).join(", ")}`);
    }
    console.log(`max ${anonymousMax.toFixed(1)} ms`);
  } finally {
    await api.stop();
    await database.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
