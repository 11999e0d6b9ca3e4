import type { MigrationInterface, QueryRunner } from "typeorm";

const CATEGORIES = `ARRAY['IDENTITY', 'CONTACT', 'DEVICE', 'APP_INVENTORY', 'LOCATION', 'NETWORK', 'DIAGNOSTIC']::text[]`;
const PURPOSES = `ARRAY['SERVICE_OPERATION', 'SUPPORT', 'SERVICE_MAINTENANCE', 'SECURITY', 'LEGAL_OBLIGATION']::text[]`;

/**
 * Third parties, the subprocessor list and its history, sharing agreements with consent,
 * transfers and notices to recipients (DOMAIN rules 15-21). Transfers and notices keep record
 * ids, categories and purposes: never a value, and no foreign key to the records, which the
 * purge removes while the history of what was shared stays.
 */
export class Sharing1763900000000 implements MigrationInterface {
  name = "Sharing1763900000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE third_party (
        id uuid PRIMARY KEY,
        name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
        role text NOT NULL CHECK (role IN ('AGENT', 'INDEPENDENT')),
        listed_as_subprocessor boolean NOT NULL DEFAULT false,
        data_sharing_prohibited boolean NOT NULL DEFAULT false,
        country text CHECK (country ~ '^[A-Z]{2}$'),
        description text CHECK (length(description) <= 1000),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CHECK (role = 'AGENT' OR NOT listed_as_subprocessor)
      )`);

    // The list's head (one row) and every change to it, numbered by the version it produced.
    await q.query(`CREATE TABLE subprocessor_list (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL, updated_at timestamptz)`);
    await q.query(`INSERT INTO subprocessor_list (id, version, updated_at) VALUES (1, 0, NULL)`);
    await q.query(`
      CREATE TABLE subprocessor_list_change (
        version integer PRIMARY KEY,
        third_party_id uuid NOT NULL REFERENCES third_party (id),
        listed boolean NOT NULL,
        changed_at timestamptz NOT NULL,
        changed_by text NOT NULL
      )`);

    await q.query(`
      CREATE TABLE sharing_agreement (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenant (id),
        third_party_id uuid NOT NULL REFERENCES third_party (id),
        feature text NOT NULL CHECK (length(feature) BETWEEN 1 AND 200),
        direction text NOT NULL CHECK (direction IN ('OUTBOUND', 'INBOUND')),
        data_categories text[] NOT NULL CHECK (cardinality(data_categories) > 0 AND data_categories <@ ${CATEGORIES}),
        purposes text[] NOT NULL CHECK (cardinality(purposes) > 0 AND purposes <@ ${PURPOSES}),
        status text NOT NULL CHECK (status IN ('PENDING_CONSENT', 'ACTIVE', 'SUSPENDED', 'REVOKED')),
        tenant_contract_reference text CHECK (length(tenant_contract_reference) <= 200),
        consent_granted_by text,
        consent_granted_at timestamptz,
        consent_categories text[],
        consent_purposes text[],
        revoked_by text,
        revoked_at timestamptz,
        revocation_reason text CHECK (length(revocation_reason) <= 500),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CHECK ((status = 'REVOKED') = (revoked_at IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX sharing_agreement_page ON sharing_agreement (tenant_id, created_at, id)`);
    await q.query(`CREATE INDEX sharing_agreement_party ON sharing_agreement (third_party_id, status)`);

    await q.query(`
      CREATE TABLE data_transfer (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenant (id),
        agreement_id uuid NOT NULL REFERENCES sharing_agreement (id),
        purpose text NOT NULL,
        record_ids uuid[] NOT NULL CHECK (cardinality(record_ids) BETWEEN 1 AND 1000),
        categories text[] NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX data_transfer_page ON data_transfer (agreement_id, created_at, id)`);
    await q.query(`CREATE INDEX data_transfer_records ON data_transfer USING gin (record_ids)`);

    await q.query(`
      CREATE TABLE recipient_notice (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenant (id),
        agreement_id uuid NOT NULL REFERENCES sharing_agreement (id),
        record_id uuid NOT NULL,
        kind text NOT NULL CHECK (kind IN ('ERASURE', 'RECTIFICATION')),
        created_at timestamptz NOT NULL,
        confirmed_at timestamptz,
        confirmed_by text,
        CHECK ((confirmed_at IS NULL) = (confirmed_by IS NULL))
      )`);
    // One open notice per recipient, record and kind: a second correction adds nothing new to tell.
    await q.query(`CREATE UNIQUE INDEX recipient_notice_open ON recipient_notice (agreement_id, record_id, kind) WHERE confirmed_at IS NULL`);

    await q.query(
      `ALTER TABLE personal_data_record ADD CONSTRAINT personal_data_record_source FOREIGN KEY (source_third_party_id) REFERENCES third_party (id)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE personal_data_record DROP CONSTRAINT personal_data_record_source`);
    await q.query(`DROP TABLE recipient_notice, data_transfer, sharing_agreement, subprocessor_list_change, subprocessor_list, third_party`);
  }
}
