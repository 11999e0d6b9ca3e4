import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The reasons of subject requests (an extension's, a rejection's) sealed under the subject's key:
 * free text an administrator writes to the subject, which may name it, kept with the request after
 * the subject's purge. A reason is either the plaintext of before (until the sealing of existing
 * data has run over it) or sealed, never both; the partial index finds what is left to seal.
 */
export class SealedRequestReasons1796400000010 implements MigrationInterface {
  name = "SealedRequestReasons1796400000010";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE subject_request ADD extension_reason_sealed bytea, ADD rejection_reason_sealed bytea`);
    await q.query(`
      ALTER TABLE subject_request ADD CONSTRAINT subject_request_sealed_reason_check
        CHECK ((extension_reason IS NULL OR extension_reason_sealed IS NULL) AND (rejection_reason IS NULL OR rejection_reason_sealed IS NULL))`);
    await q.query(
      `CREATE INDEX subject_request_plaintext ON subject_request (tenant_id, created_at, id) WHERE extension_reason IS NOT NULL OR rejection_reason IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    const [{ n }]: Array<{ n: number }> = await q.query(
      `SELECT count(*)::int AS n FROM subject_request WHERE extension_reason_sealed IS NOT NULL OR rejection_reason_sealed IS NOT NULL`,
    );
    if (n > 0) throw new Error(`${n} subject requests' reasons are sealed: reverting would lose them`);
    await q.query(`DROP INDEX subject_request_plaintext`);
    await q.query(`ALTER TABLE subject_request DROP CONSTRAINT subject_request_sealed_reason_check`);
    await q.query(`ALTER TABLE subject_request DROP COLUMN extension_reason_sealed, DROP COLUMN rejection_reason_sealed`);
  }
}
