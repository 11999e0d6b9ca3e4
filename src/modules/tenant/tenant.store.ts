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
