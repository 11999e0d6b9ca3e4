import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * A region's key store (its own database, never in the data's backups): every key below the
 * master key, each wrapped by the key above it. Destroying a row is shredding what it protected:
 * the tables are vacuumed after each destruction, so no dead tuple keeps a key on disk.
 */
export class KeyStore1796400000000 implements MigrationInterface {
  name = "KeyStore1796400000000";

  async up(q: QueryRunner): Promise<void> {
    // A tenant's key-encryption key (KEK) and its blind-index key, wrapped by the master key.
    await q.query(`
      CREATE TABLE tenant_key (
        tenant_id uuid NOT NULL,
        kind text NOT NULL CHECK (kind IN ('KEK', 'INDEX')),
        version integer NOT NULL CHECK (version > 0),
        wrapped bytea NOT NULL,
        master_version integer NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, kind, version)
      )`);
    // A data subject's key, wrapped by its tenant's KEK (of kek_version).
    await q.query(`
      CREATE TABLE subject_key (
        subject_id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        wrapped bytea NOT NULL,
        kek_version integer NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX subject_key_tenant ON subject_key (tenant_id)`);
    // A record value's data key (one per version of the value), wrapped by its subject's key.
    await q.query(`
      CREATE TABLE record_key (
        record_id uuid NOT NULL,
        version integer NOT NULL CHECK (version > 0),
        tenant_id uuid NOT NULL,
        subject_id uuid NOT NULL,
        wrapped bytea NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (record_id, version)
      )`);
    await q.query(`CREATE INDEX record_key_subject ON record_key (subject_id)`);
    await q.query(`CREATE INDEX record_key_tenant ON record_key (tenant_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE record_key`);
    await q.query(`DROP TABLE subject_key`);
    await q.query(`DROP TABLE tenant_key`);
  }
}
