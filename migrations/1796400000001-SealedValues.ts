import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Record values sealed under keys of their own (crypto-shredding, see src/modules/keys): the
 * ciphertext and which version of the record's key sealed it. A row holds either a plaintext
 * value written before sealing existed (until the sealing command has run over it) or a sealed
 * one, never both and never neither.
 */
export class SealedValues1796400000001 implements MigrationInterface {
  name = "SealedValues1796400000001";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE personal_data_record ADD value_sealed bytea, ADD value_key_version integer, ALTER COLUMN value DROP NOT NULL`);
    await q.query(`
      ALTER TABLE personal_data_record ADD CONSTRAINT personal_data_record_sealed_check
        CHECK ((value IS NULL) = (value_sealed IS NOT NULL) AND (value_sealed IS NULL) = (value_key_version IS NULL))`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Sealed values cannot go back to plain text here: refuse rather than lose them.
    const [{ n }]: Array<{ n: number }> = await q.query(`SELECT count(*)::int AS n FROM personal_data_record WHERE value_sealed IS NOT NULL`);
    if (n > 0) throw new Error(`${n} record values are sealed: reverting would lose them`);
    await q.query(`ALTER TABLE personal_data_record DROP CONSTRAINT personal_data_record_sealed_check`);
    await q.query(`ALTER TABLE personal_data_record DROP COLUMN value_sealed, DROP COLUMN value_key_version, ALTER COLUMN value SET NOT NULL`);
  }
}
