import type { MigrationInterface, QueryRunner } from "typeorm";

const TENANT_TABLES = [
  "data_subject",
  "personal_data_record",
  "idempotency_key",
  "sharing_agreement",
  "data_transfer",
  "recipient_notice",
  "breach_affected_tenant",
  "breach_notification",
];

/**
 * The policies read the scope through sub-selects, which PostgreSQL evaluates once per statement
 * (an InitPlan) instead of once per row. It also fixes the planner's estimates: an inlined
 * `coalesce(current_setting(...)) = 'all'` counts as a 0.5% filter, so every scan under a policy
 * was estimated at 1/200 of its rows and the dashboard's records were joined subject by subject
 * and sorted (66 ms) instead of read in index order (6 ms). Same rows, same rules.
 */
export class PolicyInitPlans1764200000000 implements MigrationInterface {
  name = "PolicyInitPlans1764200000000";

  async up(q: QueryRunner): Promise<void> {
    for (const table of TENANT_TABLES) {
      await q.query(`ALTER POLICY tenant_isolation ON ${table} USING ((SELECT custodian_scope_all()) OR tenant_id = (SELECT custodian_tenant()))`);
    }
    await q.query(`ALTER POLICY tenant_isolation ON tenant USING ((SELECT custodian_scope_all()) OR id = (SELECT custodian_tenant()))`);
    await q.query(`ALTER POLICY audit_read ON audit_log USING ((SELECT custodian_scope_all()) OR tenant_id = (SELECT custodian_tenant()))`);
    await q.query(`ALTER POLICY audit_purge ON audit_log USING ((SELECT custodian_scope_all()))`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of TENANT_TABLES) {
      await q.query(`ALTER POLICY tenant_isolation ON ${table} USING (custodian_scope_all() OR tenant_id = custodian_tenant())`);
    }
    await q.query(`ALTER POLICY tenant_isolation ON tenant USING (custodian_scope_all() OR id = custodian_tenant())`);
    await q.query(`ALTER POLICY audit_read ON audit_log USING (custodian_scope_all() OR tenant_id = custodian_tenant())`);
    await q.query(`ALTER POLICY audit_purge ON audit_log USING (custodian_scope_all())`);
  }
}
