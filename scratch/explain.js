const { Client } = require("/work/main/node_modules/pg");
const { DASHBOARD_SQL } = require("/work/main/dist/bench/floor");
(async () => {
  const url = new URL(require("fs").readFileSync("/tmp/pgl-url", "utf8"));
  url.searchParams.set("options", "-c role=custodian_app -c custodian.scope=all");
  const c = new Client({ connectionString: url.toString() });
  await c.connect();
  const sql = process.argv[2] || DASHBOARD_SQL;
  const r = await c.query("EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) " + sql, process.argv[2] ? [] : [20, 20]);
  console.log(r.rows.map((x) => x["QUERY PLAN"]).join("\n"));
  await c.end();
})();
