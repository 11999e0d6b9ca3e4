import type { EntityManager } from "typeorm";
import { tenantPurgeDueSql } from "./tenant.policy";

/**
 * Typed SQL fragments over the tenant table for other features' statements (the tenant's own
 * reads and writes are in TenantService). Each is a scalar expression to compose, never a table.
 */

/** The audit retention in days (DOMAIN rule 8) of the tenant whose id is `tenantIdSql`; NULL when no tenant has it. */
export function auditRetentionDaysSql(tenantIdSql: string): string {
  return `(SELECT audit_log_retention_days FROM tenant WHERE id = ${tenantIdSql})`;
}

/** True when the tenant whose id is `tenantIdSql` ended and its data purge is due at `nowSql` (DOMAIN rule 5). */
export function tenantPurgeIsDueSql(tenantIdSql: string, nowSql: string): string {
  return `EXISTS (SELECT 1 FROM tenant t WHERE t.id = ${tenantIdSql} AND ${tenantPurgeDueSql("t", nowSql)})`;
}

/** The storage location code of the tenant whose id is `tenantIdSql` (DOMAIN rule 2). */
export function tenantLocationSql(tenantIdSql: string): string {
  return `(SELECT storage_location_code FROM tenant WHERE id = ${tenantIdSql})`;
}

// Retention (DOMAIN rule 5), run on the maintenance pool.

/** A subquery of the ids of ended tenants whose data purge is due at `nowSql`. */
export function purgeDueTenantIdsSql(nowSql: string): string {
  return `SELECT id FROM tenant WHERE ${tenantPurgeDueSql("tenant", nowSql)}`;
}

/** The tenants for which `exists` (an expression over the tenant's id, `t.id`) holds, by id. */
export async function tenantsWhere(manager: EntityManager, exists: (tenantIdSql: string) => string, params: unknown[]): Promise<string[]> {
  const rows: Array<{ id: string }> = await manager.query(`SELECT t.id FROM tenant t WHERE ${exists("t.id")} ORDER BY t.id`, params);
  return rows.map((r) => r.id);
}

/** The ended tenant whose data purge is most overdue at `now`, locked until the transaction ends; SKIP LOCKED, so another run takes another. */
export async function nextPurgeDueTenantHeld(manager: EntityManager, now: Date): Promise<string | null> {
  const [tenant]: Array<{ id: string }> = await manager.query(
    `SELECT id FROM tenant WHERE ${tenantPurgeDueSql("tenant", "$1")} ORDER BY data_purge_due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
    [now],
  );
  return tenant?.id ?? null;
}

/** The tenant's data is gone: it stays as a PURGED tombstone (its audit chain keeps its policy). */
export async function markTenantPurged(manager: EntityManager, tenantId: string, now: Date): Promise<void> {
  await manager.query(`UPDATE tenant SET subscription_status = 'PURGED', updated_at = $2, version = version + 1 WHERE id = $1`, [tenantId, now]);
}
