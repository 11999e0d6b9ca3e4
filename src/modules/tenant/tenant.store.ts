/**
 * Typed SQL fragments over the tenant table for other features' statements (the tenant's own
 * reads and writes are in TenantService). Each is a scalar expression to compose, never a table.
 */

/** The audit retention in days (DOMAIN rule 8) of the tenant whose id is `tenantIdSql`; NULL when no tenant has it. */
export function auditRetentionDaysSql(tenantIdSql: string): string {
  return `(SELECT audit_log_retention_days FROM tenant WHERE id = ${tenantIdSql})`;
}
