const { freshDatabase } = require("/work/main/dist/scripts/fresh-database");
const { createLogger } = require("/work/main/dist/src/shared/logging");
const { seedDataset, datasetSize } = require("/work/main/dist/bench/dataset");
const { Pool } = require("/work/main/node_modules/pg");
const { spawn } = require("child_process");
(async () => {
  const db = await freshDatabase("custodian_try", createLogger("warn"));
  const pool = new Pool({ connectionString: db.url, max: 2 });
  console.time("seed"); await seedDataset(pool, datasetSize(0.1)); console.timeEnd("seed");
  const child = spawn("/work/main/node_modules/node/bin/node", ["/work/main/bench/postgraphile/server.mjs"], { env: { ...process.env, PORT: "5999", DATABASE_URL: db.url }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  await new Promise((ok) => child.once("message", ok));
  const r = await fetch("http://127.0.0.1:5999/graphql", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: `{ __type(name: "Tenant") { fields { name args { name } } } p: __type(name: "PersonalDataRecord") { fields { name } } q: __type(name:"Query") { fields { name } } o: __type(name:"PersonalDataRecordOrderBy") { enumValues { name } } }` }) });
  console.log(JSON.stringify(await r.json()));
  console.log(db.url);
  require("fs").writeFileSync("/tmp/pgl-url", db.url);
  await new Promise(()=>{});
})();
