import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * A subject key names the KEK version that wraps it, and that KEK can no longer be destroyed
 * under it. A rotation destroys an old KEK once no subject key is wrapped by it; a subject key
 * written meanwhile, wrapped by the KEK its writer had just read, was otherwise left under a
 * destroyed KEK: unreadable, with everything under it. Now PostgreSQL's own check decides: the
 * writer holds the KEK's row while it writes, the destruction fails while a key needs it, and a
 * key for a KEK already gone is refused (its writer wraps it again under the newest).
 *
 * Checked at commit (deferred): a transaction that destroys a tenant's KEK before its subject keys
 * (as the previous version's purge does, during a rolling upgrade) still passes.
 *
 * Existing rows are not validated: a key already left under a destroyed KEK cannot be repaired
 * and must not stop the start; every write and destruction from now on is checked.
 */
export class SubjectKeysUnderTheirKek1796400000009 implements MigrationInterface {
  name = "SubjectKeysUnderTheirKek1796400000009";

  async up(q: QueryRunner): Promise<void> {
    // The referenced key is (tenant, kind, version): a subject key's wrapping key is always a KEK.
    // A constant default fills existing rows without a rewrite; the check, NOT VALID, without a
    // scan of them under the migration's lock (they all hold the default).
    await q.query(`ALTER TABLE subject_key ADD COLUMN kek_kind text NOT NULL DEFAULT 'KEK'`);
    await q.query(`ALTER TABLE subject_key ADD CONSTRAINT subject_key_kek_kind_check CHECK (kek_kind = 'KEK') NOT VALID`);
    await q.query(
      `ALTER TABLE subject_key ADD CONSTRAINT subject_key_kek_fkey FOREIGN KEY (tenant_id, kek_kind, kek_version) REFERENCES tenant_key (tenant_id, kind, version)
         DEFERRABLE INITIALLY DEFERRED NOT VALID`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE subject_key DROP CONSTRAINT subject_key_kek_fkey`);
    await q.query(`ALTER TABLE subject_key DROP COLUMN kek_kind`);
  }
}
