const { Client } = require("/work/main/node_modules/pg");
const T = ["data_subject","personal_data_record","idempotency_key","sharing_agreement","data_transfer","recipient_notice","breach_affected_tenant","breach_notification"];
(async () => {
  const c = new Client({ connectionString: require("fs").readFileSync("/tmp/pgl-url", "utf8") });
  await c.connect();
  for (const t of T) await c.query(`ALTER POLICY tenant_isolation ON ${t} USING ((SELECT custodian_scope_all()) OR tenant_id = (SELECT custodian_tenant()))`);
  await c.query(`ALTER POLICY tenant_isolation ON tenant USING ((SELECT custodian_scope_all()) OR id = (SELECT custodian_tenant()))`);
  await c.end();
})();
