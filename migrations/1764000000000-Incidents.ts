import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Security incidents, the tenants they affect and the notifications sent to them (DOMAIN rules
 * 22-25). A notification exists only for an affected tenant (composite foreign key), once per
 * incident and tenant.
 */
export class Incidents1764000000000 implements MigrationInterface {
  name = "Incidents1764000000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE breach_incident (
        id uuid PRIMARY KEY,
        title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
        description text NOT NULL CHECK (length(description) BETWEEN 1 AND 5000),
        severity text NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
        status text NOT NULL CHECK (status IN ('INVESTIGATING', 'CUSTOMER_REPORTABLE', 'DISMISSED', 'RESOLVED')),
        detected_at timestamptz NOT NULL,
        data_categories text[] NOT NULL DEFAULT '{}',
        declared_at timestamptz,
        dismissal_reason text CHECK (length(dismissal_reason) <= 2000),
        dismissed_at timestamptz,
        resolution text CHECK (length(resolution) <= 2000),
        resolved_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CHECK ((status = 'DISMISSED') = (dismissed_at IS NOT NULL)),
        CHECK ((status = 'RESOLVED') = (resolved_at IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX breach_incident_page ON breach_incident (created_at, id)`);
    await q.query(`
      CREATE TABLE breach_affected_tenant (
        incident_id uuid NOT NULL REFERENCES breach_incident (id),
        tenant_id uuid NOT NULL REFERENCES tenant (id),
        added_at timestamptz NOT NULL,
        PRIMARY KEY (incident_id, tenant_id)
      )`);
    await q.query(`CREATE INDEX breach_affected_tenant_tenant ON breach_affected_tenant (tenant_id)`);
    await q.query(`
      CREATE TABLE breach_notification (
        id uuid PRIMARY KEY,
        incident_id uuid NOT NULL,
        tenant_id uuid NOT NULL,
        sent_at timestamptz NOT NULL,
        acknowledged_at timestamptz,
        acknowledged_by text,
        UNIQUE (incident_id, tenant_id),
        FOREIGN KEY (incident_id, tenant_id) REFERENCES breach_affected_tenant (incident_id, tenant_id),
        CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
      )`);
    await q.query(`CREATE INDEX breach_notification_tenant ON breach_notification (tenant_id, sent_at, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE breach_notification, breach_affected_tenant, breach_incident`);
  }
}
