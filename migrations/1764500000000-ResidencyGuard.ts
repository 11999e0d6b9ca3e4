import type { MigrationInterface, QueryRunner } from "typeorm";

/** Rows that belong to one tenant, and so only in its region's database. */
const TENANT_DATA = ["data_subject", "personal_data_record", "idempotency_key", "sharing_agreement", "data_transfer", "recipient_notice"];
/** Rows that belong only in control. */
const CONTROL_ONLY = ["subprocessor_list_change", "breach_incident", "breach_affected_tenant", "breach_notification"];

/**
 * Physical residency, held by each database as well (DOMAIN rule 3): a database knows what it is
 * from its `custodian.location` setting, set when the service provisions it (control, or a
 * location's code). A region refuses a tenant of another location, and with it (by their foreign
 * keys) every row of that tenant; it refuses control's rows and the operators' audit entries.
 * Control refuses every tenant's data and its audit entries. A database without the setting
 * guards nothing (one the service did not provision).
 */
export class ResidencyGuard1764500000000 implements MigrationInterface {
  name = "ResidencyGuard1764500000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION custodian_residency_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        here text := nullif(current_setting('custodian.location', true), '');
        kind text := TG_ARGV[0];
      BEGIN
        IF here IS NULL THEN RETURN NEW; END IF;
        -- Whole statements: a table whose rows do not belong here at all.
        IF kind = 'tenant data' AND here = 'control' THEN
          RAISE EXCEPTION 'residency: % rows belong in their tenant''s region database, never in control', TG_TABLE_NAME USING ERRCODE = 'check_violation';
        ELSIF kind = 'control' AND here <> 'control' THEN
          RAISE EXCEPTION 'residency: % rows belong in control, not in the % region database', TG_TABLE_NAME, here USING ERRCODE = 'check_violation';
        END IF;
        IF TG_LEVEL = 'STATEMENT' THEN RETURN NULL; END IF;
        -- Rows: a region holds tenants of its location only; a tenant's audit entries live in a region, the operators' in control.
        -- (Nested: a condition naming a column the table lacks fails even when not reached.)
        IF kind = 'tenant' THEN
          IF here <> 'control' AND NEW.storage_location_code IS DISTINCT FROM here THEN
            RAISE EXCEPTION 'residency: a tenant of % cannot be stored in the % region database', NEW.storage_location_code, here USING ERRCODE = 'check_violation';
          END IF;
        ELSIF kind = 'audit' THEN
          IF (here = 'control') <> (NEW.tenant_id IS NULL) THEN
            RAISE EXCEPTION 'residency: a tenant''s audit entries live in its region, the operators'' in control' USING ERRCODE = 'check_violation';
          END IF;
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER residency_guard BEFORE INSERT OR UPDATE ON tenant FOR EACH ROW EXECUTE FUNCTION custodian_residency_guard('tenant')`);
    await q.query(`CREATE TRIGGER residency_guard BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION custodian_residency_guard('audit')`);
    // Once per statement: a batch of a thousand records pays for one check.
    for (const table of TENANT_DATA) {
      await q.query(
        `CREATE TRIGGER residency_guard BEFORE INSERT OR UPDATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION custodian_residency_guard('tenant data')`,
      );
    }
    for (const table of CONTROL_ONLY) {
      await q.query(
        `CREATE TRIGGER residency_guard BEFORE INSERT OR UPDATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION custodian_residency_guard('control')`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["tenant", "audit_log", ...TENANT_DATA, ...CONTROL_ONLY]) await q.query(`DROP TRIGGER residency_guard ON ${table}`);
    await q.query(`DROP FUNCTION custodian_residency_guard()`);
  }
}
