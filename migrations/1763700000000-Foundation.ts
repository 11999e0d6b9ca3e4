import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Storage locations, tenants and the audit log.
 *
 * The audit log is append-only in the database itself: UPDATE and TRUNCATE are always refused,
 * DELETE only inside a transaction that set `custodian.audit_purge` (the retention purge).
 * Each chain (a tenant, or the nil uuid for entries without a tenant) is a hash chain built by a
 * BEFORE INSERT trigger under a lock on the chain's one head row: an insert costs one INSERT and
 * one small row lock, never a read of the chain, and concurrent writers cannot fork it.
 */
export class Foundation1763700000000 implements MigrationInterface {
  name = "Foundation1763700000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE storage_location (
        code text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{1,15}$'),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        data_center_countries text[] NOT NULL CHECK (cardinality(data_center_countries) > 0),
        created_at timestamptz NOT NULL
      )`);

    await q.query(`
      CREATE TABLE tenant (
        id uuid PRIMARY KEY,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        storage_location_code text NOT NULL REFERENCES storage_location (code),
        subscription_status text NOT NULL DEFAULT 'ACTIVE' CHECK (subscription_status IN ('ACTIVE', 'ENDED', 'PURGED')),
        subscription_ended_at timestamptz,
        data_purge_due_at timestamptz,
        deletion_grace_days integer NOT NULL DEFAULT 30 CHECK (deletion_grace_days BETWEEN 1 AND 30),
        audit_log_retention_days integer NOT NULL DEFAULT 365 CHECK (audit_log_retention_days BETWEEN 1 AND 365),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        version integer NOT NULL DEFAULT 1
      )`);
    await q.query(`CREATE INDEX tenant_created_at_id ON tenant (created_at, id)`);

    // One head row per chain: its lock serialises the writers of that chain only.
    // anchor_* is where the chain starts after the retention purge removed older entries.
    await q.query(`
      CREATE TABLE audit_chain (
        chain_key uuid PRIMARY KEY,
        last_seq bigint NOT NULL,
        last_hash text NOT NULL,
        anchor_seq bigint NOT NULL DEFAULT 0,
        anchor_hash text NOT NULL
      )`);

    await q.query(`
      CREATE TABLE audit_log (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid,
        chain_seq bigint NOT NULL,
        occurred_at timestamptz NOT NULL,
        actor text NOT NULL,
        actor_role text NOT NULL,
        action text NOT NULL,
        target_type text,
        target_id text,
        purpose text,
        outcome text NOT NULL CHECK (outcome IN ('ALLOWED', 'DENIED')),
        error_code text,
        details jsonb CHECK (details IS NULL OR jsonb_typeof(details) = 'object'),
        request_id text,
        prev_hash text NOT NULL,
        hash text NOT NULL,
        CHECK ((outcome = 'DENIED') = (error_code IS NOT NULL))
      )`);
    await q.query(`CREATE UNIQUE INDEX audit_log_chain ON audit_log ((coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid)), chain_seq)`);
    await q.query(`CREATE INDEX audit_log_tenant_time ON audit_log (tenant_id, occurred_at DESC, id DESC)`);

    // The canonical content an entry's hash covers: every column but the hashes themselves.
    await q.query(`
      CREATE FUNCTION audit_log_canonical(e audit_log) RETURNS text LANGUAGE sql STABLE AS $$
        SELECT jsonb_build_array(
          e.id, e.tenant_id, e.chain_seq,
          to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
          e.actor, e.actor_role, e.action, e.target_type, e.target_id, e.purpose,
          e.outcome, e.error_code, e.details, e.request_id
        )::text
      $$`);
    await q.query(`
      CREATE FUNCTION audit_log_hash(prev_hash text, e audit_log) RETURNS text LANGUAGE sql STABLE AS $$
        SELECT encode(sha256(convert_to(prev_hash || audit_log_canonical(e), 'UTF8')), 'hex')
      $$`);

    await q.query(`
      CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        k uuid := coalesce(NEW.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid);
        head audit_chain%ROWTYPE;
      BEGIN
        UPDATE audit_chain SET last_seq = last_seq + 1 WHERE chain_key = k RETURNING * INTO head;
        IF NOT FOUND THEN
          INSERT INTO audit_chain (chain_key, last_seq, last_hash, anchor_hash)
            VALUES (k, 0, repeat('0', 64), repeat('0', 64)) ON CONFLICT (chain_key) DO NOTHING;
          UPDATE audit_chain SET last_seq = last_seq + 1 WHERE chain_key = k RETURNING * INTO head;
        END IF;
        NEW.chain_seq := head.last_seq;
        NEW.prev_hash := head.last_hash;
        NEW.hash := audit_log_hash(NEW.prev_hash, NEW);
        UPDATE audit_chain SET last_hash = NEW.hash WHERE chain_key = k;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain()`);

    await q.query(`
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND current_setting('custodian.audit_purge', true) = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: % is refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`);
    await q.query(`CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_log`);
    await q.query(`DROP FUNCTION audit_log_append_only, audit_log_chain, audit_log_hash, audit_log_canonical`);
    await q.query(`DROP TABLE audit_chain`);
    await q.query(`DROP TABLE tenant`);
    await q.query(`DROP TABLE storage_location`);
  }
}
