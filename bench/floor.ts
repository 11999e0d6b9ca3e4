import { createServer, type IncomingMessage } from "node:http";
import { randomUUID } from "node:crypto";
import { openDatabases } from "../src/databases";
import { SealedValues } from "../src/modules/personal-data/sealed-values";
import { createLogger } from "../src/shared/logging";
import { benchKeyRing } from "./lib";
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

/**
 * The floor of the values case: a tenant's first page of active records readable for the
 * purpose, and the one audit row that names them, in two hand-written statements (the audit row
 * is written before any value is opened, as Custodian does); then the values opened with the
 * same key hierarchy and cache (the key ring) as Custodian's, since no reader of sealed values
 * can skip that work.
 */
export const VALUES_PAGE_SQL = `
  SELECT r.id, r.data_subject_id, r.value_sealed, r.value_key_version FROM personal_data_record r
   WHERE r.tenant_id = $1 AND r.status = 'ACTIVE' AND $3 = ANY (r.purposes)
   ORDER BY r.created_at, r.id LIMIT $2`;
export const VALUES_AUDIT_SQL = `
  INSERT INTO audit_log (tenant_id, occurred_at, actor, actor_role, action, target_type, target_id, purpose, outcome, error_code, details, request_id)
  VALUES ($1, now(), 'bench-floor', 'INTEGRATION', 'RECORD_VALUE_READ', 'PersonalDataRecord', NULL, $2, 'ALLOWED', NULL, $3, $4)`;

async function valuesReader(controlUrl: string) {
  const log = createLogger("warn");
  const topology = await openDatabases({ controlUrl, pool: { poolSize: 4, timeouts: false }, log, now: new Date() });
  const keystore = topology.database("EU")?.keystore;
  if (!keystore) throw new Error("the EU region has no key store");
  const values = new SealedValues(benchKeyRing());
  return {
    topology,
    async read(pool: OperatorPool, tenantId: string, first: number) {
      const purpose = "SERVICE_OPERATION";
      const { rows } = await pool.query({ name: "values-page", text: VALUES_PAGE_SQL, values: [tenantId, first, purpose] });
      const recordIds = rows.map((r) => r.id as string);
      await pool.query({ name: "values-audit", text: VALUES_AUDIT_SQL, values: [tenantId, purpose, { recordIds }, randomUUID()] });
      const opened = await values.openWith(
        keystore,
        rows.map((r) => ({ recordId: r.id, tenantId, subjectId: r.data_subject_id, plain: null, sealed: r.value_sealed, keyVersion: r.value_key_version })),
        log,
      );
      return rows.map((r, i) => ({ id: r.id, value: opened[i] instanceof Error ? null : opened[i] }));
    },
  };
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => ok(text));
    req.on("error", fail);
  });
}

async function main() {
  const pool = await OperatorPool.open(process.env.DATABASE_URL!);
  const tenants = Number(process.env.DASHBOARD_TENANTS ?? 20);
  const records = Number(process.env.DASHBOARD_RECORDS ?? 20);
  const reader = process.env.CONTROL_URL ? await valuesReader(process.env.CONTROL_URL) : null;
  let failures = 0;
  const server = createServer(async (req, res) => {
    try {
      const text = await body(req);
      if (req.url === "/values" && reader) {
        const { tenant, first } = JSON.parse(text) as { tenant: string; first: number };
        const data = await reader.read(pool, tenant, first);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data }));
        return;
      }
      const { rows } = await pool.query({ name: "dashboard", text: DASHBOARD_SQL, values: [tenants, records] });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: rows }));
    } catch (error) {
      // A few on stderr: the bench counts errors, this says which.
      if (failures++ < 3) console.error(`floor ${req.url}: ${String(error)}`);
      res.writeHead(500).end(String(error));
    }
  });
  server.listen(Number(process.env.PORT), "127.0.0.1", () => process.send?.("ready"));
  const stop = () => server.close(() => Promise.all([pool.end(), reader?.topology.close()]).then(() => process.exit(0)));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (require.main === module) void main();
