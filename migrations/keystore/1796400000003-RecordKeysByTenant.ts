import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Record keys are found by record and by subject only: a tenant's purge reaches its record keys
 * through its subjects' keys. The index by tenant cost every ingested record a third index entry.
 */
export class RecordKeysByTenant1796400000003 implements MigrationInterface {
  name = "RecordKeysByTenant1796400000003";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX record_key_tenant`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX record_key_tenant ON record_key (tenant_id)`);
  }
}
