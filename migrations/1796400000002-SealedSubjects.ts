import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Data subjects' identifiers sealed under the subject's key (crypto-shredding, see
 * src/modules/keys): the external id and display name as ciphertext, and the external id's keyed
 * blind index (HMAC under the tenant's index key) for the one lookup that needs equality, its
 * uniqueness in the tenant. A row holds either the plaintext of before (until the sealing command
 * has run over it) or the sealed identifiers, never both.
 */
export class SealedSubjects1796400000002 implements MigrationInterface {
  name = "SealedSubjects1796400000002";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE data_subject ADD external_id_sealed bytea, ADD display_name_sealed bytea, ADD external_id_index text, ALTER COLUMN external_id DROP NOT NULL`,
    );
    await q.query(`
      ALTER TABLE data_subject ADD CONSTRAINT data_subject_sealed_check
        CHECK ((external_id IS NULL) = (external_id_sealed IS NOT NULL) AND (external_id_sealed IS NULL) = (external_id_index IS NULL)
               AND (display_name_sealed IS NULL OR display_name IS NULL))`);
    await q.query(`ALTER TABLE data_subject ADD CONSTRAINT data_subject_tenant_id_external_id_index_key UNIQUE (tenant_id, external_id_index)`);
  }

  async down(q: QueryRunner): Promise<void> {
    const [{ n }]: Array<{ n: number }> = await q.query(`SELECT count(*)::int AS n FROM data_subject WHERE external_id_sealed IS NOT NULL`);
    if (n > 0) throw new Error(`${n} data subjects' identifiers are sealed: reverting would lose them`);
    await q.query(`ALTER TABLE data_subject DROP CONSTRAINT data_subject_tenant_id_external_id_index_key`);
    await q.query(`ALTER TABLE data_subject DROP CONSTRAINT data_subject_sealed_check`);
    await q.query(
      `ALTER TABLE data_subject DROP COLUMN external_id_sealed, DROP COLUMN display_name_sealed, DROP COLUMN external_id_index, ALTER COLUMN external_id SET NOT NULL`,
    );
  }
}
