const { freshDatabase } = require("/work/main/dist/scripts/fresh-database");
const { createLogger } = require("/work/main/dist/src/shared/logging");
const { seedDataset, datasetSize } = require("/work/main/dist/bench/dataset");
const { Pool } = require("/work/main/node_modules/pg");
(async () => {
  const db = await freshDatabase("custodian_try", createLogger("warn"), { shared_preload_libraries: "pg_stat_statements" });
  const pool = new Pool({ connectionString: db.url, max: 2 });
  await seedDataset(pool, datasetSize(Number(process.env.SCALE || 1)));
  await pool.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  require("fs").writeFileSync("/tmp/pgl-url", db.url);
  console.log(db.url);
  process.on("SIGTERM", async () => { await db.drop(); process.exit(0); });
  await new Promise(() => {});
})();
