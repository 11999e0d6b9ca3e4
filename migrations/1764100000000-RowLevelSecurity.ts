import type { MigrationInterface, QueryRunner } from "typeorm";

/** Tables that hold one tenant's rows, each with a tenant_id column. */
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
 * Row-level security as a second wall behind the resolvers' tenant filters.
 *
 * The service's queries run as `custodian_app`, a role that owns no table and cannot bypass RLS;
 * migrations run as the tables' owner. Each transaction of a request states whose rows it may
 * see in two transaction-local settings: `custodian.tenant_id` (a tenant role's tenant), or
 * `custodian.scope = 'all'` for paths that legitimately span tenants (operators, the retention
 * engine). Without either, a tenant-scoped table shows no rows at all.
 */
export class RowLevelSecurity1764100000000 implements MigrationInterface {
  name = "RowLevelSecurity1764100000000";

  async up(q: QueryRunner): Promise<void> {
    // Roles belong to the server, not the database: create it once, whichever database comes first.
    await q.query(`
      DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'custodian_app') THEN
          CREATE ROLE custodian_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        END IF;
      END $$`);
    // The owner connects and switches to the role for the service's queries.
    await q.query(`DO $$ BEGIN EXECUTE format('GRANT custodian_app TO %I', current_user); END $$`);
    await q.query(`GRANT USAGE ON SCHEMA public TO custodian_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO custodian_app`);
    await q.query(`REVOKE ALL ON migrations FROM custodian_app`);
    // Tables of later migrations are the service's too (each still decides on its own policies).
    await q.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO custodian_app`);

    await q.query(`
      CREATE FUNCTION custodian_scope_all() RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT coalesce(current_setting('custodian.scope', true), '') = 'all'
      $$`);
    await q.query(`
      CREATE FUNCTION custodian_tenant() RETURNS uuid LANGUAGE sql STABLE AS $$
        SELECT nullif(current_setting('custodian.tenant_id', true), '')::uuid
      $$`);

    for (const table of TENANT_TABLES) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY tenant_isolation ON ${table} USING (custodian_scope_all() OR tenant_id = custodian_tenant())`);
    }
    // A tenant role sees its own tenant row only; reference data (locations, third parties) is public.
    await q.query(`ALTER TABLE tenant ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE tenant FORCE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY tenant_isolation ON tenant USING (custodian_scope_all() OR id = custodian_tenant())`);
    // The audit log is read per tenant; any request may append to it (refusals are audited in the
    // caller's chain, and the operators' chain has no tenant).
    await q.query(`ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE audit_log FORCE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY audit_read ON audit_log FOR SELECT USING (custodian_scope_all() OR tenant_id = custodian_tenant())`);
    await q.query(`CREATE POLICY audit_append ON audit_log FOR INSERT WITH CHECK (true)`);
    await q.query(`CREATE POLICY audit_purge ON audit_log FOR DELETE USING (custodian_scope_all())`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [...TENANT_TABLES, "tenant"]) {
      await q.query(`DROP POLICY tenant_isolation ON ${table}`);
      await q.query(`ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`);
    }
    await q.query(`DROP POLICY audit_read ON audit_log`);
    await q.query(`DROP POLICY audit_append ON audit_log`);
    await q.query(`DROP POLICY audit_purge ON audit_log`);
    await q.query(`ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE audit_log DISABLE ROW LEVEL SECURITY`);
    await q.query(`DROP FUNCTION custodian_scope_all, custodian_tenant`);
    await q.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM custodian_app`);
    await q.query(`REVOKE USAGE ON SCHEMA public FROM custodian_app`);
  }
}
