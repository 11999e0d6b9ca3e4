import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { intFromEnv, postgresCpuMs, processCpuMs, processesNaming } from "./lib";

/**
 * The values case of two (or more) built trees, side by side: `TREES=/tmp/before,. node
 * dist/bench/values-ab.js`. Each tree seeds the bench's dataset (BENCH_SCALE, 0.2 here) on an
 * embedded server of its own and starts its own API; then the trees take turns, BENCH_SECONDS (10)
 * at BENCH_CONNECTIONS (20) each, for BENCH_RUNS (4) rounds, the order reversed every other round,
 * so that the machine's slow spells fall on all alike. Prints each window's req/s and the CPU per
 * request of the tree's API and of its own PostgreSQL, then each tree's median and its ratio to
 * the first. VALUES_PER_REQUEST (100) values per request; 1 shows what a request costs without them.
 *
 * Each tree is loaded from its own `dist/` (build it first: `git worktree add /tmp/before <rev>`,
 * link `node_modules`, `npm run build`), so a tree from before a change runs its own code.
 */

const VALUES = `query($id: ID!, $first: Int!) { tenant(id: $id) { personalDataRecords(first: $first, filter: { status: ACTIVE }) { nodes { id value(purpose: SERVICE_OPERATION) } } } }`;

interface Side {
  tree: string;
  url: string;
  apiPid: number;
  /** The postmaster of the tree's own server. */
  postmaster: number;
  tenants: string[];
  tokens: string[];
  stop(): Promise<void>;
  rps: number[];
}

async function prepare(tree: string, scale: number): Promise<Side> {
  const load = createRequire(join(tree, "package.json"));
  const { freshDatabase } = load("./dist/scripts/fresh-database.js");
  const { createLogger } = load("./dist/src/shared/logging.js");
  const lib = load("./dist/bench/lib.js");
  const dataset = load("./dist/bench/dataset.js");
  const { Role } = load("./dist/src/shared/auth/role.js");
  const { signToken } = load("./dist/src/shared/auth/jwt.js");
  const { Pool } = load("pg");
  const database = await freshDatabase("custodian_ab", createLogger("warn"));
  const control = new Pool({ connectionString: database.url, max: 2 });
  const eu = new Pool({ connectionString: lib.euRegionUrl(database.url), max: 2 });
  await dataset.seedDataset({ control, regions: [{ code: "EU", pool: eu }] }, dataset.datasetSize(scale));
  await eu.end();
  // A tree from before sealing has no sealSeededData: its values stay plaintext, as its API read them.
  if (lib.sealSeededData) await lib.sealSeededData(database.url);
  const tenants: string[] = await dataset.tenantIds(control);
  await control.end();
  const api = await lib.startApi(database.url, { RETENTION_INTERVAL: "off" });
  const tokens = await Promise.all(tenants.map((tenantId) => signToken({ subject: "bench-integration", role: Role.INTEGRATION, tenantId }, lib.BENCH_SECRET)));
  // Its command line names the data directory (freshDatabase's, "<dir>/pg"); its sessions do not.
  const [postmaster] = processesNaming(join(String(database.description).replace(/^embedded PostgreSQL in /, ""), "pg"));
  if (!postmaster) throw new Error(`no PostgreSQL serves ${database.description}`);
  return {
    tree,
    url: api.url,
    apiPid: api.child.pid,
    postmaster,
    tenants,
    tokens,
    rps: [],
    async stop() {
      await api.stop();
      await database.drop();
    },
  };
}

async function window(side: Side, seconds: number, connections: number, first: number) {
  const deadline = performance.now() + seconds * 1000;
  let requests = 0;
  let errors = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) {
        const i = next++;
        const response = await fetch(side.url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${side.tokens[i % side.tenants.length]}` },
          body: JSON.stringify({ query: VALUES, variables: { id: side.tenants[i % side.tenants.length], first } }),
        });
        const body = (await response.json()) as { errors?: unknown; data?: { tenant?: { personalDataRecords?: { nodes?: unknown[] } } } };
        if (body.errors || body.data?.tenant?.personalDataRecords?.nodes?.length !== first) errors += 1;
        requests += 1;
      }
    }),
  );
  return { requests, errors };
}

async function main() {
  if (process.env.DATABASE_URL) throw new Error("values-ab runs each tree on an embedded server of its own: unset DATABASE_URL");
  const trees = (process.env.TREES ?? "")
    .split(",")
    .filter(Boolean)
    .map((t) => resolve(t));
  if (trees.length < 2) throw new Error("TREES names two or more built trees, comma-separated");
  const scale = Number(process.env.BENCH_SCALE ?? 0.2);
  const seconds = intFromEnv("BENCH_SECONDS", 10);
  const connections = intFromEnv("BENCH_CONNECTIONS", 20);
  const rounds = intFromEnv("BENCH_RUNS", 4);
  const first = intFromEnv("VALUES_PER_REQUEST", 100);
  const sides: Side[] = [];
  try {
    for (const tree of trees) sides.push(await prepare(tree, scale));
    for (const side of sides) await window(side, Math.min(seconds, 10), connections, first); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 ? [...sides].reverse() : sides) {
        const [api0, pg0, t0] = [processCpuMs(side.apiPid), postgresCpuMs(side.postmaster), performance.now()];
        const { requests, errors } = await window(side, seconds, connections, first);
        const wall = (performance.now() - t0) / 1000;
        const api = (processCpuMs(side.apiPid) - api0) / requests;
        const pg = (postgresCpuMs(side.postmaster) - pg0) / requests;
        side.rps.push(requests / wall);
        console.log(
          `${side.tree}: ${(requests / wall).toFixed(0)} req/s, API ${api.toFixed(2)} ms, PostgreSQL ${pg.toFixed(2)} ms per request${errors ? `, ${errors} errors` : ""}`,
        );
      }
    }
    const median = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      const middle = sorted.length / 2;
      return Number.isInteger(middle) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[Math.floor(middle)];
    };
    for (const side of sides)
      console.log(`${side.tree}: median ${median(side.rps).toFixed(0)} req/s, ${(median(side.rps) / median(sides[0].rps)).toFixed(3)} of the first`);
  } finally {
    for (const side of sides) await side.stop().catch((error: unknown) => console.error("stopping failed:", error));
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
