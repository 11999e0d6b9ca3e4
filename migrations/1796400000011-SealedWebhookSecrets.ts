import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Webhook endpoints' signing secrets sealed under the master key (with the version they were
 * sealed under): whoever holds a copy of the database could otherwise sign events as Custodian to
 * every receiver. A secret is either the plaintext of before (until the start's sealing has run
 * over it) or sealed, never both.
 */
export class SealedWebhookSecrets1796400000011 implements MigrationInterface {
  name = "SealedWebhookSecrets1796400000011";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE webhook_endpoint ALTER COLUMN secret DROP NOT NULL,
        ADD secret_sealed bytea, ADD secret_master_version integer,
        ADD previous_secret_sealed bytea, ADD previous_secret_master_version integer`);
    await q.query(`
      ALTER TABLE webhook_endpoint ADD CONSTRAINT webhook_endpoint_sealed_secret_check
        CHECK ((secret IS NULL) <> (secret_sealed IS NULL) AND (previous_secret IS NULL OR previous_secret_sealed IS NULL)
          AND (secret_sealed IS NULL) = (secret_master_version IS NULL) AND (previous_secret_sealed IS NULL) = (previous_secret_master_version IS NULL))`);
  }

  async down(q: QueryRunner): Promise<void> {
    const [{ n }]: Array<{ n: number }> = await q.query(
      `SELECT count(*)::int AS n FROM webhook_endpoint WHERE secret_sealed IS NOT NULL OR previous_secret_sealed IS NOT NULL`,
    );
    if (n > 0) throw new Error(`${n} webhook endpoints' secrets are sealed: reverting would lose them`);
    await q.query(`ALTER TABLE webhook_endpoint DROP CONSTRAINT webhook_endpoint_sealed_secret_check`);
    await q.query(`
      ALTER TABLE webhook_endpoint DROP COLUMN secret_sealed, DROP COLUMN secret_master_version,
        DROP COLUMN previous_secret_sealed, DROP COLUMN previous_secret_master_version, ALTER COLUMN secret SET NOT NULL`);
  }
}
