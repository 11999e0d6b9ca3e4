import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The key store's shred count as this database's last retention run saw it (see the key store's
 * migration of the same name). Restored from a backup, it is behind the key store: the next run
 * purges the rows whose keys were destroyed since, as the live database did.
 */
export class ShredEpoch1796400000006 implements MigrationInterface {
  name = "ShredEpoch1796400000006";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE shred_epoch (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), epoch bigint NOT NULL)`);
    await q.query(`INSERT INTO shred_epoch (epoch) VALUES (0)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE shred_epoch`);
  }
}
