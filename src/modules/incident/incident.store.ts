/**
 * Typed SQL fragments over the incident tables for other features' statements.
 */

/** A scalar count of the tenant's breach notifications not yet acknowledged (DOMAIN rule 24). */
export function unacknowledgedNotificationCountSql(tenantIdSql: string): string {
  return `(SELECT count(*) FROM breach_notification WHERE tenant_id = ${tenantIdSql} AND acknowledged_at IS NULL)`;
}
