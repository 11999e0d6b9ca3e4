import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Signed checkpoints of each audit chain, outside the rows they protect (DOMAIN rule 27). The
 * maintenance run verifies a chain from its previous checkpoint and signs where it got to (the
 * position and hash of an entry, Ed25519, with a key the database never holds). Verification
 * then compares the chain with its newest checkpoint: removing the newest entries, or rewriting
 * every hash after an edit, no longer verifies. Requests read checkpoints of their scope and
 * write none; tenants can keep their own copies and check the signatures themselves.
 */
export class AuditCheckpoints1764400000000 implements MigrationInterface {
  name = "AuditCheckpoints1764400000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE audit_checkpoint (
        chain_key uuid NOT NULL,
        chain_seq bigint NOT NULL CHECK (chain_seq > 0),
        hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
        signed_at timestamptz NOT NULL,
        key_id text NOT NULL,
        signature text NOT NULL,
        PRIMARY KEY (chain_key, chain_seq)
      )`);
    await q.query(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_checkpoint FROM custodian_app`);
    await q.query(`ALTER TABLE audit_checkpoint ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE audit_checkpoint FORCE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY chain_read ON audit_checkpoint FOR SELECT USING ((SELECT custodian_scope_all()) OR chain_key = (SELECT custodian_tenant()))`);
    await q.query(`CREATE POLICY maintenance ON audit_checkpoint TO custodian_maintenance USING (true) WITH CHECK (true)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_checkpoint`);
  }
}
