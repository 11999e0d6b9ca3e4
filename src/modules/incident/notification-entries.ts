import type { EntityManager } from "typeorm";
import { EventType } from "../events/event-type";
import { existingEventIds } from "../events/events.store";
import { EVENT_RETENTION_MS, emitOn } from "../events/outbox";
import type { Principal } from "../../shared/auth/principal";
import { Role } from "../../shared/auth/role";
import type { AuditService } from "../audit/audit.service";
import { sentNotificationTargets } from "../audit/audit-log.store";
import { withinDeadline } from "./incident-policy";
import { notificationsOfTenantsSent, type SentNotification } from "./incident.store";

/** Who writes the entries a crash left out: the service itself. */
const REPAIR_ACTOR: Principal = { subject: "custodian-repair", role: Role.OPERATOR, tenantId: null, dataSubjectId: null };

/**
 * The entry of one notification in its tenant's chain and its `breach_notification.sent` event
 * (`manager`: the tenant's region). The event's id is the notification's: written twice, it is
 * written once.
 */
export async function recordNotificationSent(audit: AuditService, manager: EntityManager, n: SentNotification, actor: Principal, requestId: string | null) {
  await sentEvents(manager, [n]);
  await audit.append(manager, {
    tenantId: n.tenant_id,
    occurredAt: n.sent_at,
    actor,
    action: "BREACH_NOTIFICATION_SENT",
    targetType: "BreachNotification",
    targetId: n.id,
    outcome: "ALLOWED",
    details: { incidentId: n.incident_id, withinDeadline: withinDeadline(n.sent_at, n.detected_at) },
    requestId,
  });
}

/**
 * Writes the BREACH_NOTIFICATION_SENT entries a region's chains miss for notifications control
 * holds (a crash after control's commit, before the entries): idempotent, by notification id.
 * `tenantIds`: the region's tenants. Returns how many it wrote.
 */
export async function repairNotificationEntries(
  audit: AuditService,
  control: EntityManager,
  region: EntityManager,
  tenantIds: readonly string[],
): Promise<number> {
  if (!tenantIds.length) return 0;
  const sent = await notificationsOfTenantsSent(control, tenantIds);
  if (!sent.length) return 0;
  const recorded = await sentNotificationTargets(
    region,
    sent.map((n) => n.id),
  );
  const missing = sent.filter((n) => !recorded.has(n.id));
  for (const n of missing) await recordNotificationSent(audit, region, n, REPAIR_ACTOR, null);
  // Events a crash kept out (within their 30 days: older ones were purged, not missed).
  const recent = sent.filter((n) => recorded.has(n.id) && Date.now() - n.sent_at.getTime() < EVENT_RETENTION_MS);
  const present = recent.length
    ? await existingEventIds(
        region,
        recent.map((n) => n.id),
      )
    : new Set<string>();
  await sentEvents(
    region,
    recent.filter((n) => !present.has(n.id)),
  );
  return missing.length;
}

/** A tenant's `breach_notification.sent` events: the incident and the notification, nothing of other tenants. */
function sentEvents(manager: EntityManager, sent: readonly SentNotification[]): Promise<void> {
  return emitOn(
    manager,
    sent.map((n) => ({
      id: n.id,
      tenantId: n.tenant_id,
      type: EventType.BREACH_NOTIFICATION_SENT,
      occurredAt: n.sent_at,
      data: { incidentId: n.incident_id, notificationId: n.id, withinDeadline: withinDeadline(n.sent_at, n.detected_at) },
    })),
  );
}
