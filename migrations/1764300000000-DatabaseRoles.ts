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
/** Tables under row-level security before this migration. */
const RLS_TABLES = [...TENANT_TABLES, "tenant", "audit_log"];
/** Shared by every tenant, written by operators only. */
const REFERENCE_TABLES = ["storage_location", "third_party", "subprocessor_list", "subprocessor_list_change"];

/**
 * Who may do what is decided by the database, not by settings a session can write.
 *
 * - `custodian_app` logs in itself (before, the pool logged in as the owner and switched to it, so
 *   `RESET ROLE` gave a request's connection the owner's rights). It owns nothing and is a member
 *   of no role.
 * - A request's scope is a claim the server signs: `custodian.scope` holds the scope and a proof,
 *   a keyed hash over the scope and the connection's backend pid with a key in a table only the
 *   owner reads. A session can still write the setting, but without the key it can only write a
 *   claim the policies reject, and a claim read from one connection is worthless on another.
 * - Maintenance (retention, audit purge, checkpoints) runs as `custodian_maintenance`, a role the
 *   owner switches to and the app role cannot: only it may delete audit entries, and only it
 *   writes chain heads and checkpoints.
 * - The chain head, reference data and incidents are no longer writable by any request: the
 *   trigger that links entries runs with its owner's rights, and writes need the operators' scope.
 * - An append with no scope may only be a refusal in the operators' chain (a partner's refused
 *   call); it can no longer put an entry into a tenant's chain.
 */
export class DatabaseRoles1764300000000 implements MigrationInterface {
  name = "DatabaseRoles1764300000000";

  async up(q: QueryRunner): Promise<void> {
    // Roles belong to the server: change them only when they are not as wanted yet (another
    // database of the same server may have done it).
    await q.query(`
      DO $$ BEGIN
        IF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'custodian_app') THEN
          ALTER ROLE custodian_app LOGIN;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'custodian_maintenance') THEN
          CREATE ROLE custodian_maintenance NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        END IF;
        IF NOT pg_has_role(current_user, 'custodian_maintenance', 'MEMBER') THEN
          EXECUTE format('GRANT custodian_maintenance TO %I', current_user);
        END IF;
      END $$`);
    await q.query(`GRANT USAGE ON SCHEMA public TO custodian_maintenance`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO custodian_maintenance`);
    await q.query(`REVOKE ALL ON migrations FROM custodian_maintenance`);
    await q.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO custodian_maintenance`);

    // The key that signs scopes: readable by its owner only, so by the functions below.
    await q.query(`CREATE TABLE custodian_secret (name text PRIMARY KEY, value text NOT NULL)`);
    await q.query(`REVOKE ALL ON custodian_secret FROM PUBLIC, custodian_app, custodian_maintenance`);
    await q.query(`
      INSERT INTO custodian_secret (name, value)
      VALUES ('scope', encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex'))`);

    // The verified claim, as the policies read it. The proof is sha256(key || sha256(key ||
    // message)), a keyed hash without pgcrypto. Each function verifies on its own, as a plain SQL
    // function run with the owner's rights (it reads the key): a wrapper around a shared one cost
    // three times as much, and the policies call them once per statement (InitPlans).
    const proofHolds = `s.c[3] = pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(k.value || pg_catalog.encode(pg_catalog.sha256(
        pg_catalog.convert_to(k.value || s.c[1] || ':' || s.c[2] || ':' || pg_catalog.pg_backend_pid(), 'UTF8')), 'hex'), 'UTF8')), 'hex')`;
    const claim = `FROM (SELECT pg_catalog.string_to_array(coalesce(pg_catalog.current_setting('custodian.scope', true), ''), ':') AS c) s
        JOIN public.custodian_secret k ON k.name = 'scope'
       WHERE pg_catalog.array_length(s.c, 1) = 3`;
    await q.query(`
      CREATE OR REPLACE FUNCTION custodian_scope_all() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER AS $$
        SELECT coalesce((SELECT s.c[1] = 'all' AND ${proofHolds} ${claim}), false)
      $$`);
    await q.query(`
      CREATE OR REPLACE FUNCTION custodian_tenant() RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER AS $$
        SELECT CASE WHEN s.c[1] = 'tenant' AND ${proofHolds} THEN s.c[2]::uuid END ${claim}
      $$`);
    // The tenant first: a tenant's request, whose rows all match it, never evaluates the other.
    for (const table of TENANT_TABLES) {
      await q.query(`ALTER POLICY tenant_isolation ON ${table} USING (tenant_id = (SELECT custodian_tenant()) OR (SELECT custodian_scope_all()))`);
    }
    await q.query(`ALTER POLICY tenant_isolation ON tenant USING (id = (SELECT custodian_tenant()) OR (SELECT custodian_scope_all()))`);
    await q.query(`ALTER POLICY audit_read ON audit_log USING (tenant_id = (SELECT custodian_tenant()) OR (SELECT custodian_scope_all()))`);

    // Maintenance sees and changes every row; what it may do to the audit log the triggers decide.
    for (const table of [...RLS_TABLES, ...REFERENCE_TABLES, "breach_incident"]) {
      if (REFERENCE_TABLES.includes(table) || table === "breach_incident") {
        await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
        await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      }
      await q.query(`CREATE POLICY maintenance ON ${table} TO custodian_maintenance USING (true) WITH CHECK (true)`);
    }
    // Read by all (an incident: by operators, and by a tenant once it was notified of it), written
    // by operators. A reader may lock a row it reads (FOR SHARE takes the UPDATE policy's USING),
    // but any change must pass the operators' check.
    const incidentSeen = `(SELECT custodian_scope_all()) OR EXISTS (SELECT 1 FROM breach_notification n WHERE n.incident_id = breach_incident.id)`;
    for (const table of [...REFERENCE_TABLES, "breach_incident"]) {
      const seen = table === "breach_incident" ? incidentSeen : "true";
      await q.query(`CREATE POLICY shared_read ON ${table} FOR SELECT USING (${seen})`);
      await q.query(`CREATE POLICY operators_insert ON ${table} FOR INSERT WITH CHECK ((SELECT custodian_scope_all()))`);
      await q.query(`CREATE POLICY operators_update ON ${table} FOR UPDATE USING (${seen}) WITH CHECK ((SELECT custodian_scope_all()))`);
      await q.query(`CREATE POLICY operators_delete ON ${table} FOR DELETE USING ((SELECT custodian_scope_all()))`);
    }

    // The audit log: appended by requests within their scope, or as a refusal in the operators' chain.
    await q.query(`
      ALTER POLICY audit_append ON audit_log WITH CHECK (
        tenant_id = (SELECT custodian_tenant()) OR (SELECT custodian_scope_all()) OR (tenant_id IS NULL AND outcome = 'DENIED'))`);
    await q.query(`DROP POLICY audit_purge ON audit_log`);
    await q.query(`REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM custodian_app`);
    await q.query(`
      CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND current_user = 'custodian_maintenance' AND current_setting('custodian.audit_purge', true) = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: % is refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);

    // Chain heads: written by the linking trigger (with its owner's rights) and the purge only.
    await q.query(`REVOKE ALL ON audit_chain FROM custodian_app`);
    await q.query(`ALTER FUNCTION audit_log_chain() SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp`);
    await q.query(`
      CREATE FUNCTION audit_chain_head(k uuid, hold boolean)
      RETURNS TABLE (anchor_seq bigint, anchor_hash text, last_seq bigint, last_hash text)
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
      BEGIN
        IF NOT (custodian_scope_all() OR k = custodian_tenant()) THEN
          RAISE EXCEPTION 'this chain is outside the session''s scope' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF hold THEN
          RETURN QUERY SELECT c.anchor_seq, c.anchor_hash, c.last_seq, c.last_hash FROM audit_chain c WHERE c.chain_key = k FOR SHARE;
        ELSE
          RETURN QUERY SELECT c.anchor_seq, c.anchor_hash, c.last_seq, c.last_hash FROM audit_chain c WHERE c.chain_key = k;
        END IF;
      END $$`);
    await q.query(`REVOKE ALL ON FUNCTION audit_chain_head(uuid, boolean) FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION audit_chain_head(uuid, boolean) TO custodian_app, custodian_maintenance`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION audit_chain_head(uuid, boolean)`);
    await q.query(`ALTER FUNCTION audit_log_chain() SECURITY INVOKER RESET search_path`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON audit_chain TO custodian_app`);
    await q.query(`
      CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND current_setting('custodian.audit_purge', true) = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: % is refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`GRANT UPDATE, DELETE ON audit_log TO custodian_app`);
    await q.query(`CREATE POLICY audit_purge ON audit_log FOR DELETE USING ((SELECT custodian_scope_all()))`);
    await q.query(`ALTER POLICY audit_append ON audit_log WITH CHECK (true)`);
    for (const table of [...REFERENCE_TABLES, "breach_incident"]) {
      for (const policy of ["shared_read", "operators_insert", "operators_update", "operators_delete"]) await q.query(`DROP POLICY ${policy} ON ${table}`);
    }
    for (const table of [...RLS_TABLES, ...REFERENCE_TABLES, "breach_incident"]) {
      await q.query(`DROP POLICY maintenance ON ${table}`);
      if (REFERENCE_TABLES.includes(table) || table === "breach_incident") {
        await q.query(`ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`);
        await q.query(`ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`);
      }
    }
    await q.query(`
      CREATE OR REPLACE FUNCTION custodian_scope_all() RETURNS boolean LANGUAGE sql STABLE SECURITY INVOKER AS $$
        SELECT coalesce(current_setting('custodian.scope', true), '') = 'all'
      $$`);
    await q.query(`
      CREATE OR REPLACE FUNCTION custodian_tenant() RETURNS uuid LANGUAGE sql STABLE SECURITY INVOKER AS $$
        SELECT nullif(current_setting('custodian.tenant_id', true), '')::uuid
      $$`);
    for (const table of TENANT_TABLES) {
      await q.query(`ALTER POLICY tenant_isolation ON ${table} USING ((SELECT custodian_scope_all()) OR tenant_id = (SELECT custodian_tenant()))`);
    }
    await q.query(`ALTER POLICY tenant_isolation ON tenant USING ((SELECT custodian_scope_all()) OR id = (SELECT custodian_tenant()))`);
    await q.query(`ALTER POLICY audit_read ON audit_log USING ((SELECT custodian_scope_all()) OR tenant_id = (SELECT custodian_tenant()))`);
    await q.query(`DROP TABLE custodian_secret`);
    await q.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM custodian_maintenance`);
    await q.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM custodian_maintenance`);
    await q.query(`REVOKE USAGE ON SCHEMA public FROM custodian_maintenance`);
  }
}
