import { createServer } from "node:http";
import { OperatorPool } from "./operator-pool";

/**
 * The floor of the dashboard: the same rows as Custodian's and PostGraphile's answers, fetched by
 * one hand-written statement through pg and sent as JSON over plain node:http. It connects as
 * custodian_app with the operator's signed scope set once per connection, so the same row-level
 * security applies, without a transaction per request. Started by bench.ts in its own process.
 */
export const DASHBOARD_SQL = `
  SELECT t.id, t.name, sl.code, sl.name AS location_name,
         (SELECT count(*)::int FROM personal_data_record r WHERE r.tenant_id = t.id) AS total,
         (SELECT coalesce(json_agg(json_build_array(p.id, p.category, p.status, p.subject_id, p.subject_status)), '[]')
            FROM (SELECT r.id, r.category, r.status, s.id AS subject_id, s.status AS subject_status
                    FROM personal_data_record r JOIN data_subject s ON s.tenant_id = r.tenant_id AND s.id = r.data_subject_id
                   WHERE r.tenant_id = t.id ORDER BY r.created_at, r.id LIMIT $2) p) AS records
    FROM (SELECT * FROM tenant ORDER BY created_at, id LIMIT $1) t
    JOIN storage_location sl ON sl.code = t.storage_location_code
   ORDER BY t.created_at, t.id`;

async function main() {
  const pool = await OperatorPool.open(process.env.DATABASE_URL!);
  const tenants = Number(process.env.DASHBOARD_TENANTS ?? 20);
  const records = Number(process.env.DASHBOARD_RECORDS ?? 20);
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", async () => {
      try {
        const { rows } = await pool.query({ name: "dashboard", text: DASHBOARD_SQL, values: [tenants, records] });
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: rows }));
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    });
  });
  server.listen(Number(process.env.PORT), "127.0.0.1", () => process.send?.("ready"));
  const stop = () => server.close(() => pool.end().then(() => process.exit(0)));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (require.main === module) void main();
