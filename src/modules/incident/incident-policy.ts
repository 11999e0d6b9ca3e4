import { DomainError, ErrorCode } from "../../shared/errors";
import { IncidentStatus } from "./incident.types";

/** DOMAIN rule 22: tenants must be notified within 72 hours of detection. */
export const NOTIFICATION_WINDOW_MS = 72 * 3_600_000;

export function notificationDeadline(detectedAt: Date): Date {
  return new Date(detectedAt.getTime() + NOTIFICATION_WINDOW_MS);
}

export function withinDeadline(sentAt: Date, detectedAt: Date): boolean {
  return sentAt.getTime() <= notificationDeadline(detectedAt).getTime();
}

/** DOMAIN rule 23: overdue while the deadline has passed and an affected tenant has no notification. */
export function isOverdue(now: Date, detectedAt: Date, affectedWithoutNotification: number): boolean {
  return now.getTime() > notificationDeadline(detectedAt).getTime() && affectedWithoutNotification > 0;
}

export type IncidentStep = "declare" | "dismiss" | "resolve" | "addTenants";

const ALLOWED: Record<IncidentStep, readonly IncidentStatus[]> = {
  declare: [IncidentStatus.INVESTIGATING],
  dismiss: [IncidentStatus.INVESTIGATING],
  resolve: [IncidentStatus.CUSTOMER_REPORTABLE],
  addTenants: [IncidentStatus.INVESTIGATING, IncidentStatus.CUSTOMER_REPORTABLE],
};

/**
 * DOMAIN rule 25: INVESTIGATING -> CUSTOMER_REPORTABLE -> RESOLVED, or INVESTIGATING ->
 * DISMISSED; tenants are added while the incident is open. Anything else is INVALID_STATE.
 */
export function requireStep(status: IncidentStatus, step: IncidentStep): void {
  if (!ALLOWED[step].includes(status)) {
    throw new DomainError(ErrorCode.INVALID_STATE, `An incident that is ${status} cannot take this step; it needs to be ${ALLOWED[step].join(" or ")}.`);
  }
}
