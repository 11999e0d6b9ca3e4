import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * What the sealing of existing data still has to do, found by index: each of its batches took the
 * next plaintext rows by scanning past every row sealed before (quadratic in the table), and its
 * check of what is left counted the whole table. The indexes hold plaintext rows only, so they
 * are empty once sealing is done and rows written sealed never enter them. In page order, so that
 * rows sealed in place keep their tenant's rows together.
 */
export class PlaintextLeft1796400000005 implements MigrationInterface {
  name = "PlaintextLeft1796400000005";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX personal_data_record_plaintext ON personal_data_record (tenant_id, created_at, id) WHERE value IS NOT NULL`);
    await q.query(`CREATE INDEX data_subject_plaintext ON data_subject (tenant_id, created_at, id) WHERE external_id IS NOT NULL OR display_name IS NOT NULL`);
    await q.query(`CREATE INDEX idempotency_key_plaintext ON idempotency_key (tenant_id, key) WHERE key NOT LIKE 'b1:%'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idempotency_key_plaintext`);
    await q.query(`DROP INDEX data_subject_plaintext`);
    await q.query(`DROP INDEX personal_data_record_plaintext`);
  }
}
