import { NOTIFICATION_WINDOW_MS } from "./incident-policy";
import type { EntityManager, SelectQueryBuilder } from "typeorm";
import { returning } from "../../shared/db/database";
import type { DataScope } from "../../shared/auth/scope";
import { BreachIncidentEntity } from "./incident.entity";

/**
 * The incident tables (breach_incident, breach_affected_tenant, breach_notification): every
 * statement over them, and typed fragments for other features' statements to compose.
 */

export interface NotificationRow {
  id: string;
  incident_id: string;
  tenant_id: string;
  sent_at: Date;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  detected_at: Date;
}

const NOTIFICATION_COLUMNS = `n.id, n.incident_id, n.tenant_id, n.sent_at, n.acknowledged_at, n.acknowledged_by, i.detected_at`;

/** Incidents (alias `i`) `scope` may see: all for operators; for a tenant role those its tenant was notified of; none for others. */
export function incidentsQuery(manager: EntityManager, scope: DataScope): SelectQueryBuilder<BreachIncidentEntity> {
  const query = manager.getRepository(BreachIncidentEntity).createQueryBuilder("i");
  if (scope.kind === "tenant") {
    query.andWhere("EXISTS (SELECT 1 FROM breach_notification n WHERE n.incident_id = i.id AND n.tenant_id = :scopeTenant)", { scopeTenant: scope.tenantId });
  } else if (scope.kind === "none") {
    query.andWhere("false");
  }
  return query;
}

/** One incident, locked FOR UPDATE until the transaction ends. */
export function incidentHeld(manager: EntityManager, id: string): Promise<BreachIncidentEntity | null> {
  return manager.getRepository(BreachIncidentEntity).createQueryBuilder("i").where("i.id = :id", { id }).setLock("pessimistic_write").getOne();
}

export async function insertIncident(manager: EntityManager, incident: BreachIncidentEntity): Promise<void> {
  await manager.getRepository(BreachIncidentEntity).insert(incident);
}

export async function updateIncident(manager: EntityManager, id: string, change: Partial<BreachIncidentEntity>): Promise<void> {
  await manager.getRepository(BreachIncidentEntity).update({ id }, change);
}

/** The notifications of `incidentIds` (only `ownTenant`'s when given), by incident, oldest first. */
export function notificationsOfIncidents(manager: EntityManager, incidentIds: readonly string[], ownTenant: string | null): Promise<NotificationRow[]> {
  return manager.query(
    `SELECT ${NOTIFICATION_COLUMNS} FROM breach_notification n JOIN breach_incident i ON i.id = n.incident_id
      WHERE n.incident_id = ANY($1::uuid[]) AND ($2::uuid IS NULL OR n.tenant_id = $2) ORDER BY n.incident_id, n.sent_at, n.id`,
    [incidentIds, ownTenant],
  );
}

/** The notifications among `ids` (only `ownTenant`'s when given). */
export function notificationsByIds(manager: EntityManager, ids: readonly string[], ownTenant: string | null): Promise<NotificationRow[]> {
  return manager.query(
    `SELECT ${NOTIFICATION_COLUMNS} FROM breach_notification n JOIN breach_incident i ON i.id = n.incident_id
      WHERE n.id = ANY($1::uuid[]) AND ($2::uuid IS NULL OR n.tenant_id = $2)`,
    [ids, ownTenant],
  );
}

/** The notifications of `tenantIds`, by tenant, oldest first. */
export function notificationsOfTenants(manager: EntityManager, tenantIds: readonly string[]): Promise<NotificationRow[]> {
  return manager.query(
    `SELECT ${NOTIFICATION_COLUMNS} FROM breach_notification n JOIN breach_incident i ON i.id = n.incident_id
      WHERE n.tenant_id = ANY($1::uuid[]) ORDER BY n.tenant_id, n.sent_at, n.id`,
    [tenantIds],
  );
}

/** How many affected tenants (only `ownTenant` when given) each incident has not notified yet; incidents with none are left out. */
export function unnotifiedCounts(
  manager: EntityManager,
  incidentIds: readonly string[],
  ownTenant: string | null,
): Promise<Array<{ incident_id: string; missing: number }>> {
  return manager.query(
    `SELECT a.incident_id, count(*)::int AS missing FROM breach_affected_tenant a
      WHERE a.incident_id = ANY($1::uuid[]) AND ($2::uuid IS NULL OR a.tenant_id = $2)
        AND NOT EXISTS (SELECT 1 FROM breach_notification n WHERE n.incident_id = a.incident_id AND n.tenant_id = a.tenant_id)
      GROUP BY a.incident_id`,
    [incidentIds, ownTenant],
  );
}

/** The tenants each incident affects, in the order they were added. */
export function affectedTenantsOf(manager: EntityManager, incidentIds: readonly string[]): Promise<Array<{ incident_id: string; tenant_id: string }>> {
  return manager.query(`SELECT incident_id, tenant_id FROM breach_affected_tenant WHERE incident_id = ANY($1::uuid[]) ORDER BY added_at, tenant_id`, [
    incidentIds,
  ]);
}

/** Records the tenants as affected; returns those that were not before. */
export async function addAffectedTenants(manager: EntityManager, incidentId: string, tenantIds: readonly string[], now: Date): Promise<string[]> {
  const rows: Array<{ tenant_id: string }> = await manager.query(
    `INSERT INTO breach_affected_tenant (incident_id, tenant_id, added_at) SELECT $1, t, $3 FROM unnest($2::uuid[]) AS t
     ON CONFLICT DO NOTHING RETURNING tenant_id`,
    [incidentId, tenantIds, now],
  );
  return rows.map((r) => r.tenant_id);
}

/** Notifies every affected tenant not notified yet; returns the notifications sent. */
export function notifyAffectedTenants(manager: EntityManager, incidentId: string, now: Date): Promise<Array<{ id: string; tenant_id: string }>> {
  return manager.query(
    `INSERT INTO breach_notification (id, incident_id, tenant_id, sent_at)
     SELECT gen_random_uuid(), a.incident_id, a.tenant_id, $2 FROM breach_affected_tenant a WHERE a.incident_id = $1
     ON CONFLICT (incident_id, tenant_id) DO NOTHING RETURNING id, tenant_id`,
    [incidentId, now],
  );
}

/** The tenant's notification, locked FOR UPDATE until the transaction ends; none when another tenant's. */
export async function notificationHeld(manager: EntityManager, id: string, tenantId: string): Promise<NotificationRow | null> {
  const [row]: NotificationRow[] = await manager.query(
    `SELECT ${NOTIFICATION_COLUMNS} FROM breach_notification n JOIN breach_incident i ON i.id = n.incident_id
      WHERE n.id = $1 AND n.tenant_id = $2 FOR UPDATE OF n`,
    [id, tenantId],
  );
  return row ?? null;
}

export async function acknowledgeNotification(manager: EntityManager, id: string, at: Date, by: string): Promise<void> {
  await manager.query(`UPDATE breach_notification SET acknowledged_at = $2, acknowledged_by = $3 WHERE id = $1`, [id, at, by]);
}

/** A scalar count of the tenant's breach notifications not yet acknowledged (DOMAIN rule 24). */
export function unacknowledgedNotificationCountSql(tenantIdSql: string): string {
  return `(SELECT count(*) FROM breach_notification WHERE tenant_id = ${tenantIdSql} AND acknowledged_at IS NULL)`;
}

/** A notification as its tenant's audit entry names it. */
export interface SentNotification {
  id: string;
  tenant_id: string;
  incident_id: string;
  sent_at: Date;
  detected_at: Date;
}

/** Every notification sent to the tenants `tenantIds`, with its incident's detection time. */
export function notificationsOfTenantsSent(manager: EntityManager, tenantIds: readonly string[]): Promise<SentNotification[]> {
  return manager.query(
    `SELECT n.id, n.tenant_id, n.incident_id, n.sent_at, i.detected_at FROM breach_notification n JOIN breach_incident i ON i.id = n.incident_id
      WHERE n.tenant_id = ANY($1::uuid[]) ORDER BY n.sent_at, n.id`,
    [tenantIds],
  );
}

/**
 * Marks the incidents whose 72 hours passed at `now` with an affected tenant unnotified (DOMAIN
 * rule 23's overdue; a dismissed incident needs no notification) and not marked before, and
 * returns them with how many tenants wait: each raises its overdue event once, however many
 * instances run this (the second finds the mark set once the first commits).
 */
export function markOverdueIncidents(
  manager: EntityManager,
  now: Date,
  dryRun: boolean,
): Promise<Array<{ id: string; detected_at: Date; unnotified: number }>> {
  const due = `i.overdue_raised_at IS NULL AND i.status <> 'DISMISSED' AND i.detected_at + interval '${NOTIFICATION_WINDOW_MS} milliseconds' < $1`;
  const unnotified = `(SELECT count(*) FROM breach_affected_tenant a WHERE a.incident_id = i.id
      AND NOT EXISTS (SELECT 1 FROM breach_notification n WHERE n.incident_id = a.incident_id AND n.tenant_id = a.tenant_id))::int`;
  if (dryRun) return manager.query(`SELECT i.id, i.detected_at, ${unnotified} AS unnotified FROM breach_incident i WHERE ${due} AND ${unnotified} > 0`, [now]);
  return returning(
    manager,
    `UPDATE breach_incident i SET overdue_raised_at = $1 WHERE ${due} AND ${unnotified} > 0 RETURNING i.id, i.detected_at, ${unnotified} AS unnotified`,
    [now],
  );
}
