import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Data subjects, personal data records and idempotency keys.
 *
 * The database is a second wall behind the resolvers: a record's subject must belong to the
 * record's tenant, and a record's storage location must be its tenant's (DOMAIN rule 2), both as
 * composite foreign keys; prohibited and implicit purposes can never be stored (rule 11).
 */
export class PersonalData1763800000000 implements MigrationInterface {
  name = "PersonalData1763800000000";

  async up(q: QueryRunner): Promise<void> {
    // Targets of the composite foreign keys below.
    await q.query(`ALTER TABLE tenant ADD CONSTRAINT tenant_id_location UNIQUE (id, storage_location_code)`);

    await q.query(`
      CREATE TABLE data_subject (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenant (id),
        external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 255),
        display_name text CHECK (length(display_name) BETWEEN 1 AND 200),
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'DELETED')),
        deleted_at timestamptz,
        purge_due_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CHECK ((status = 'DELETED') = (deleted_at IS NOT NULL AND purge_due_at IS NOT NULL)),
        UNIQUE (tenant_id, id),
        UNIQUE (tenant_id, external_id)
      )`);
    await q.query(`CREATE INDEX data_subject_page ON data_subject (tenant_id, created_at, id)`);

    await q.query(`
      CREATE TABLE personal_data_record (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        data_subject_id uuid NOT NULL,
        category text NOT NULL CHECK (category IN ('IDENTITY', 'CONTACT', 'DEVICE', 'APP_INVENTORY', 'LOCATION', 'NETWORK', 'DIAGNOSTIC')),
        purposes text[] NOT NULL CHECK (
          cardinality(purposes) > 0
          AND purposes <@ ARRAY['SERVICE_OPERATION', 'SUPPORT', 'SERVICE_MAINTENANCE', 'SECURITY', 'LEGAL_OBLIGATION']::text[]
        ),
        storage_location_code text NOT NULL,
        source_third_party_id uuid,
        value jsonb NOT NULL CHECK (jsonb_typeof(value) = 'object'),
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'PENDING_DELETION')),
        deletion_reason text CHECK (deletion_reason IN ('ACTIVE_DELETION', 'PASSIVE_DELETION')),
        deletion_requested_at timestamptz,
        purge_due_at timestamptz,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CHECK ((status = 'PENDING_DELETION') = (deletion_reason IS NOT NULL AND deletion_requested_at IS NOT NULL AND purge_due_at IS NOT NULL)),
        FOREIGN KEY (tenant_id, data_subject_id) REFERENCES data_subject (tenant_id, id),
        FOREIGN KEY (tenant_id, storage_location_code) REFERENCES tenant (id, storage_location_code)
      )`);
    await q.query(`CREATE INDEX personal_data_record_page ON personal_data_record (tenant_id, created_at, id)`);
    await q.query(`CREATE INDEX personal_data_record_subject ON personal_data_record (data_subject_id, created_at, id)`);
    // The purge looks for due records only, tenant by tenant.
    await q.query(`CREATE INDEX personal_data_record_due ON personal_data_record (tenant_id, purge_due_at) WHERE status = 'PENDING_DELETION'`);

    // A replayed write returns its first result: the key remembers the payload's hash and the
    // ids it created, never the payload itself.
    await q.query(`
      CREATE TABLE idempotency_key (
        tenant_id uuid NOT NULL REFERENCES tenant (id),
        key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
        operation text NOT NULL,
        request_hash text NOT NULL,
        result_ids uuid[] NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, key)
      )`);
    await q.query(`CREATE INDEX idempotency_key_expiry ON idempotency_key (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE idempotency_key`);
    await q.query(`DROP TABLE personal_data_record`);
    await q.query(`DROP TABLE data_subject`);
    await q.query(`ALTER TABLE tenant DROP CONSTRAINT tenant_id_location`);
  }
}
