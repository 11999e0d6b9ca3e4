import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * How many times the purge has destroyed keys in this key store: raised before each destruction.
 * A region database keeps the count its last retention run saw; a region behind its key store
 * (restored from a backup, or a run that died) may hold rows whose keys are gone, which the next
 * run then finds and purges.
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
