import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Each tenant's number of records, kept by the database as its records are inserted and deleted,
 * so that a page's unfiltered `totalCount` reads one row instead of counting every index entry of
 * the tenant (its cost grew with the tenant's records: a dashboard of 20 tenants with 1,000 each
 * counted 20,000 entries per request, a third of the statement).
 *
 * Kept by statement-level triggers (one upsert per statement and tenant, however many rows it
 * wrote) that run with their owner's rights: the service's roles may read a tally, within their
 * scope, and never write one. Written in the same transaction as the rows, a tally is exactly as
 * visible as they are. Writers of one tenant wait on its tally row from their insert to their
 * commit, as they already do on the tenant's audit chain.
 */
export class RecordTally1796400000008 implements MigrationInterface {
  name = "RecordTally1796400000008";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE personal_data_record_tally (
        tenant_id uuid PRIMARY KEY REFERENCES tenant (id) ON DELETE CASCADE,
        records bigint NOT NULL CHECK (records >= 0)
      )`);
    // Readable in scope only; written only by the triggers below, with their owner's rights.
    await q.query(`ALTER TABLE personal_data_record_tally ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE personal_data_record_tally FORCE ROW LEVEL SECURITY`);
    await q.query(
      `CREATE POLICY tenant_isolation ON personal_data_record_tally FOR SELECT USING (tenant_id = (SELECT custodian_tenant()) OR (SELECT custodian_scope_all()))`,
    );
    await q.query(`DO $$ BEGIN
      EXECUTE format('CREATE POLICY kept_by_triggers ON personal_data_record_tally TO %I USING (true) WITH CHECK (true)', current_user);
    END $$`);
    await q.query(`REVOKE ALL ON personal_data_record_tally FROM PUBLIC, custodian_app, custodian_maintenance`);
    await q.query(`GRANT SELECT ON personal_data_record_tally TO custodian_app`);
    await q.query(`
      CREATE FUNCTION personal_data_record_tally() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          -- In tenant order: two statements that write several tenants never wait on each other in a cycle.
          INSERT INTO personal_data_record_tally AS c (tenant_id, records)
            SELECT tenant_id, count(*) FROM added GROUP BY tenant_id ORDER BY tenant_id
            ON CONFLICT (tenant_id) DO UPDATE SET records = c.records + excluded.records;
        ELSIF TG_OP = 'DELETE' THEN
          UPDATE personal_data_record_tally c SET records = c.records - d.n
            FROM (SELECT tenant_id, count(*) AS n FROM removed GROUP BY tenant_id) d
           WHERE c.tenant_id = d.tenant_id;
        ELSE
          DELETE FROM personal_data_record_tally;
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`REVOKE ALL ON FUNCTION personal_data_record_tally() FROM PUBLIC`);
    // Created before the tally is filled, in this transaction: from here on the table's writers
    // wait for the commit, so no row is counted twice or missed.
    await q.query(
      `CREATE TRIGGER personal_data_record_tally_insert AFTER INSERT ON personal_data_record REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION personal_data_record_tally()`,
    );
    await q.query(
      `CREATE TRIGGER personal_data_record_tally_delete AFTER DELETE ON personal_data_record REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION personal_data_record_tally()`,
    );
    await q.query(
      `CREATE TRIGGER personal_data_record_tally_truncate AFTER TRUNCATE ON personal_data_record FOR EACH STATEMENT EXECUTE FUNCTION personal_data_record_tally()`,
    );
    // A record's tenant never changes (its foreign keys and the residency guard rely on it too).
    await q.query(`
      CREATE FUNCTION personal_data_record_tenant_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'a record''s tenant cannot change' USING ERRCODE = 'check_violation';
      END $$`);
    await q.query(
      `CREATE TRIGGER personal_data_record_tenant_fixed BEFORE UPDATE OF tenant_id ON personal_data_record FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id) EXECUTE FUNCTION personal_data_record_tenant_fixed()`,
    );
    await q.query(`INSERT INTO personal_data_record_tally (tenant_id, records) SELECT tenant_id, count(*) FROM personal_data_record GROUP BY tenant_id`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER personal_data_record_tenant_fixed ON personal_data_record`);
    await q.query(`DROP FUNCTION personal_data_record_tenant_fixed()`);
    await q.query(`DROP TRIGGER personal_data_record_tally_truncate ON personal_data_record`);
    await q.query(`DROP TRIGGER personal_data_record_tally_delete ON personal_data_record`);
    await q.query(`DROP TRIGGER personal_data_record_tally_insert ON personal_data_record`);
    await q.query(`DROP FUNCTION personal_data_record_tally()`);
    await q.query(`DROP TABLE personal_data_record_tally`);
  }
}
