const { Client } = require("/work/main/node_modules/pg");
(async () => {
  const c = new Client({ connectionString: require("fs").readFileSync("/tmp/pgl-url", "utf8") });
  await c.connect();
  if (process.argv[2] === "reset") await c.query("SELECT pg_stat_statements_reset()");
  else { const r = await c.query("SELECT calls, round(total_exec_time::numeric,1) ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 150) q FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC"); console.table(r.rows); }
  await c.end();
})();
