import type { EntityManager } from "typeorm";
import { EventType } from "../events/event-type";
import { emitOn } from "../events/outbox";
import { notificationDeadline } from "./incident-policy";
import { markOverdueIncidents } from "./incident.store";

/**
 * For control's maintenance run (in `manager`'s transaction): one `breach_notification.overdue`
 * operator event per incident whose 72 hours passed with an affected tenant unnotified, once. The
 * event names the incident and how many tenants wait, never which. A dry run counts.
 */
export async function raiseIncidentDeadlines(manager: EntityManager, now: Date, dryRun: boolean): Promise<number> {
  const overdue = await markOverdueIncidents(manager, now, dryRun);
  if (!dryRun && overdue.length) {
    await emitOn(
      manager,
      overdue.map((i) => ({
        tenantId: null,
        type: EventType.BREACH_NOTIFICATION_OVERDUE,
        occurredAt: now,
        data: { incidentId: i.id, notificationDeadline: notificationDeadline(i.detected_at).toISOString(), unnotifiedTenants: i.unnotified },
      })),
    );
  }
  return overdue.length;
}
