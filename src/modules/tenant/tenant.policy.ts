import { BadUserInputError, DomainError, ErrorCode } from "../../shared/errors";

export enum SubscriptionStatus {
  ACTIVE = "ACTIVE",
  ENDED = "ENDED",
  PURGED = "PURGED",
}

/** DOMAIN rule 6: deleted data is purged within at most 30 days; a tenant may choose fewer. */
export const DELETION_GRACE_DAYS = { min: 1, max: 30, default: 30 } as const;
/** DOMAIN rule 8: audit entries are kept at most one year; a tenant may choose less. */
export const AUDIT_LOG_RETENTION_DAYS = { min: 1, max: 365, default: 365 } as const;

export interface RetentionPolicy {
  deletionGraceDays: number;
  auditLogRetentionDays: number;
}

export interface RetentionPolicyChange {
  deletionGraceDays?: number | null;
  auditLogRetentionDays?: number | null;
}

function inBounds(field: string, value: number, bounds: { min: number; max: number }): number {
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    throw new BadUserInputError(field, `${field} must be a whole number of days from ${bounds.min} to ${bounds.max}.`);
  }
  return value;
}

/**
 * The policy after a change: absent or null fields keep their current value (or the default
 * for a new tenant); values outside the bounds of rules 6 and 8 are refused, naming the field.
 */
export function applyRetentionPolicy(current: RetentionPolicy | null, change: RetentionPolicyChange | null | undefined, fieldPrefix = ""): RetentionPolicy {
  const base = current ?? { deletionGraceDays: DELETION_GRACE_DAYS.default, auditLogRetentionDays: AUDIT_LOG_RETENTION_DAYS.default };
  return {
    deletionGraceDays: inBounds(`${fieldPrefix}deletionGraceDays`, change?.deletionGraceDays ?? base.deletionGraceDays, DELETION_GRACE_DAYS),
    auditLogRetentionDays: inBounds(
      `${fieldPrefix}auditLogRetentionDays`,
      change?.auditLogRetentionDays ?? base.auditLogRetentionDays,
      AUDIT_LOG_RETENTION_DAYS,
    ),
  };
}

/** No new data and no sharing once the subscription ended (DOMAIN rule 5); `refused` says what is not done. */
export function requireActiveSubscription(tenant: { subscriptionStatus: SubscriptionStatus }, refused = "no new personal data is accepted"): void {
  if (tenant.subscriptionStatus !== SubscriptionStatus.ACTIVE) {
    throw new DomainError(ErrorCode.SUBSCRIPTION_ENDED, `The tenant's subscription has ended: ${refused}.`);
  }
}

/**
 * An ended tenant whose data purge is due (DOMAIN rule 5), as SQL over the tenant row `alias`
 * with the service clock's now in `now` (a placeholder): the retention engine purges these, and
 * the compliance report counts them as overdue until it has.
 */
export function tenantPurgeDueSql(alias: string, now: string): string {
  return `${alias}.subscription_status = '${SubscriptionStatus.ENDED}' AND ${alias}.data_purge_due_at <= ${now}`;
}
