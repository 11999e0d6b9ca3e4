import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * A correction's note that its record's keys below `below_version` are to be destroyed once the
 * correction has committed. Written with the new key, before the commit; removed when the old
 * keys are. A note left behind (the process died after the commit, before the destruction) is
 * finished by the next retention run.
 */
export class RetiredRecordKeys1796400000004 implements MigrationInterface {
  name = "RetiredRecordKeys1796400000004";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE retired_record_key (
        record_id uuid PRIMARY KEY,
        below_version integer NOT NULL,
        created_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE retired_record_key`);
  }
}
