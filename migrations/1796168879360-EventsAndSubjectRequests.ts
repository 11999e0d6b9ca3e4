import type { MigrationInterface, QueryRunner } from "typeorm";

/** Tables whose rows are one tenant's, or (tenant_id null) the operators'. */
const OWNED = ["event", "webhook_endpoint", "webhook_delivery"];

/**
 * Subject-rights requests (a tenant's, in its region) and the events feature's tables: the
 * outbox (event), webhook endpoints and their deliveries, in every database (a tenant's in its
 * region, the operators' in control). Row-level security as for the other tenant tables; a
 * residency guard keeps operator rows in control and tenant rows out of it; each committed
 * event is announced on channel custodian_events (NOTIFY is sent at commit, never for a
 * rolled-back insert) to the subscriptions and the webhook dispatcher.
 */
export class EventsAndSubjectRequests1796168879360 implements MigrationInterface {
  name = "EventsAndSubjectRequests1796168879360";

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE TABLE "subject_request" ("id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "data_subject_id" uuid NOT NULL, "kind" text NOT NULL, "status" text NOT NULL, "received_at" TIMESTAMP WITH TIME ZONE NOT NULL, "clock_started_at" TIMESTAMP WITH TIME ZONE, "due_at" TIMESTAMP WITH TIME ZONE, "original_due_at" TIMESTAMP WITH TIME ZONE, "extension_reason" text, "identity_requested_at" TIMESTAMP WITH TIME ZONE, "exported_at" TIMESTAMP WITH TIME ZONE, "completed_at" TIMESTAMP WITH TIME ZONE, "rejected_at" TIMESTAMP WITH TIME ZONE, "rejection_reason" text, "recipient_notice_ids" uuid array NOT NULL DEFAULT \'{}\', "due_soon_raised_for" TIMESTAMP WITH TIME ZONE, "overdue_raised_for" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "subject_request_reason_check" CHECK (length(extension_reason) <= 2000 AND length(rejection_reason) <= 2000), CONSTRAINT "subject_request_clock_check" CHECK ((status = \'AWAITING_IDENTITY\') = (due_at IS NULL)), CONSTRAINT "subject_request_status_check" CHECK (status IN (\'OPEN\', \'AWAITING_IDENTITY\', \'COMPLETED\', \'REJECTED\')), CONSTRAINT "subject_request_kind_check" CHECK (kind IN (\'ACCESS\', \'RECTIFICATION\', \'ERASURE\', \'PORTABILITY\')), CONSTRAINT "PK_61d21fd37d62e0b43a04474bf18" PRIMARY KEY ("id"))',
    );
    await q.query('CREATE INDEX "subject_request_due" ON "subject_request"  ("due_at") WHERE status = \'OPEN\'');
    await q.query(
      'CREATE UNIQUE INDEX "subject_request_one_open" ON "subject_request"  ("tenant_id", "data_subject_id", "kind") WHERE status IN (\'OPEN\', \'AWAITING_IDENTITY\')',
    );
    await q.query('CREATE INDEX "subject_request_subject" ON "subject_request"  ("tenant_id", "data_subject_id") ');
    await q.query('CREATE INDEX "subject_request_page" ON "subject_request"  ("tenant_id", "created_at", "id") ');
    await q.query(
      'CREATE TABLE "event" ("id" uuid NOT NULL, "tenant_id" uuid, "type" text NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "data" jsonb NOT NULL, CONSTRAINT "event_type_check" CHECK (length(type) BETWEEN 1 AND 100), CONSTRAINT "PK_30c2f3bbaf6d34a55f8ae6e4614" PRIMARY KEY ("id"))',
    );
    await q.query('CREATE INDEX "event_age" ON "event"  ("occurred_at") ');
    await q.query('CREATE INDEX "event_tenant_page" ON "event"  ("tenant_id", "occurred_at", "id") ');
    await q.query(
      'CREATE TABLE "webhook_endpoint" ("id" uuid NOT NULL, "tenant_id" uuid, "url" text NOT NULL, "event_types" text array NOT NULL, "secret" text NOT NULL, "previous_secret" text, "previous_secret_until" TIMESTAMP WITH TIME ZONE, "enabled" boolean NOT NULL DEFAULT true, "disabled_reason" text, "failing_since" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "webhook_endpoint_disabled_check" CHECK (enabled = (disabled_reason IS NULL)), CONSTRAINT "webhook_endpoint_event_types_check" CHECK (cardinality(event_types) > 0), CONSTRAINT "webhook_endpoint_url_check" CHECK (length(url) BETWEEN 1 AND 2048), CONSTRAINT "PK_6c98112122b2b8a4f3984d2efa8" PRIMARY KEY ("id"))',
    );
    await q.query('CREATE INDEX "webhook_endpoint_owner" ON "webhook_endpoint"  ("tenant_id", "created_at", "id") ');
    await q.query(
      'CREATE TABLE "webhook_delivery" ("id" uuid NOT NULL, "tenant_id" uuid, "event_id" uuid NOT NULL, "endpoint_id" uuid NOT NULL, "status" text NOT NULL, "scheduled_attempts" integer NOT NULL DEFAULT \'0\', "next_attempt_at" TIMESTAMP WITH TIME ZONE, "lease_until" TIMESTAMP WITH TIME ZONE, "attempts" jsonb NOT NULL DEFAULT \'[]\', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "webhook_delivery_next_check" CHECK ((status = \'PENDING\') = (next_attempt_at IS NOT NULL)), CONSTRAINT "webhook_delivery_status_check" CHECK (status IN (\'PENDING\', \'SUCCEEDED\', \'FAILED\')), CONSTRAINT "PK_b1ae290239a778f12399db91354" PRIMARY KEY ("id"))',
    );
    await q.query('CREATE INDEX "webhook_delivery_due" ON "webhook_delivery"  ("next_attempt_at") WHERE status = \'PENDING\'');
    await q.query('CREATE INDEX "webhook_delivery_event" ON "webhook_delivery"  ("event_id") ');
    await q.query('CREATE INDEX "webhook_delivery_page" ON "webhook_delivery"  ("endpoint_id", "created_at", "id") ');
    await q.query(
      'ALTER TABLE "subject_request" ADD CONSTRAINT "subject_request_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE NO ACTION ON UPDATE NO ACTION',
    );
    await q.query(
      'ALTER TABLE "webhook_delivery" ADD CONSTRAINT "webhook_delivery_endpoint_id_fkey" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoint"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await q.query(
      'ALTER TABLE "webhook_delivery" ADD CONSTRAINT "webhook_delivery_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "event"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );

    for (const table of ["subject_request", ...OWNED]) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY tenant_isolation ON ${table} USING (tenant_id = (SELECT custodian_tenant()) OR (SELECT custodian_scope_all()))`);
      await q.query(`CREATE POLICY maintenance ON ${table} TO custodian_maintenance USING (true) WITH CHECK (true)`);
    }
    await q.query(
      `CREATE TRIGGER residency_guard BEFORE INSERT OR UPDATE ON subject_request FOR EACH STATEMENT EXECUTE FUNCTION custodian_residency_guard('tenant data')`,
    );
    await q.query(`
      CREATE FUNCTION custodian_owner_residency() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        here text := nullif(current_setting('custodian.location', true), '');
      BEGIN
        IF here IS NOT NULL AND (here = 'control') <> (NEW.tenant_id IS NULL) THEN
          RAISE EXCEPTION 'residency: a tenant''s % rows live in its region, the operators'' in control', TG_TABLE_NAME USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
      END $$`);
    for (const table of OWNED) {
      await q.query(`CREATE TRIGGER residency_guard BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION custodian_owner_residency()`);
    }
    await q.query(`
      CREATE FUNCTION custodian_event_announce() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('custodian_events', NEW.id::text);
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER announce AFTER INSERT ON event FOR EACH ROW EXECUTE FUNCTION custodian_event_announce()`);

    // Deadline events are raised once: an incident's overdue (control).
    await q.query(`ALTER TABLE breach_incident ADD overdue_raised_at timestamptz`);
    // What a retention run purged per tenant, until its data.purged event is written (a crashed
    // run's tallies are flushed by the next); maintenance only.
    await q.query(`
      CREATE TABLE purge_tally (
        tenant_id uuid PRIMARY KEY,
        records integer NOT NULL DEFAULT 0,
        data_subjects integer NOT NULL DEFAULT 0,
        idempotency_keys integer NOT NULL DEFAULT 0,
        tenant_purged boolean NOT NULL DEFAULT false)`);
    await q.query(`ALTER TABLE purge_tally ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE purge_tally FORCE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY maintenance ON purge_tally TO custodian_maintenance USING (true) WITH CHECK (true)`);
    await q.query(
      `CREATE TRIGGER residency_guard BEFORE INSERT OR UPDATE ON purge_tally FOR EACH STATEMENT EXECUTE FUNCTION custodian_residency_guard('tenant data')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE purge_tally`);
    await q.query(`ALTER TABLE breach_incident DROP COLUMN overdue_raised_at`);
    await q.query(`DROP TRIGGER announce ON event`);
    await q.query(`DROP FUNCTION custodian_event_announce()`);
    for (const table of OWNED) await q.query(`DROP TRIGGER residency_guard ON ${table}`);
    await q.query(`DROP FUNCTION custodian_owner_residency()`);
    await q.query(`DROP TRIGGER residency_guard ON subject_request`);
    await q.query('ALTER TABLE "webhook_delivery" DROP CONSTRAINT "webhook_delivery_event_id_fkey"');
    await q.query('ALTER TABLE "webhook_delivery" DROP CONSTRAINT "webhook_delivery_endpoint_id_fkey"');
    await q.query('ALTER TABLE "subject_request" DROP CONSTRAINT "subject_request_tenant_id_fkey"');
    await q.query('DROP INDEX "public"."webhook_delivery_page"');
    await q.query('DROP INDEX "public"."webhook_delivery_event"');
    await q.query('DROP INDEX "public"."webhook_delivery_due"');
    await q.query('DROP TABLE "webhook_delivery"');
    await q.query('DROP INDEX "public"."webhook_endpoint_owner"');
    await q.query('DROP TABLE "webhook_endpoint"');
    await q.query('DROP INDEX "public"."event_tenant_page"');
    await q.query('DROP INDEX "public"."event_age"');
    await q.query('DROP TABLE "event"');
    await q.query('DROP INDEX "public"."subject_request_page"');
    await q.query('DROP INDEX "public"."subject_request_subject"');
    await q.query('DROP INDEX "public"."subject_request_one_open"');
    await q.query('DROP INDEX "public"."subject_request_due"');
    await q.query('DROP TABLE "subject_request"');
  }
}
