import type { EntityManager } from "typeorm";
import type { Principal } from "../../shared/auth/principal";
import { Role } from "../../shared/auth/role";
import type { AuditService } from "../audit/audit.service";
import { sentNotificationTargets } from "../audit/audit-log.store";
import { withinDeadline } from "./incident-policy";
import { notificationsOfTenantsSent, type SentNotification } from "./incident.store";

/** Who writes the entries a crash left out: the service itself. */
const REPAIR_ACTOR: Principal = { subject: "custodian-repair", role: Role.OPERATOR, tenantId: null, dataSubjectId: null };

/** The entry of one notification in its tenant's chain (`manager`: the tenant's region). */
export function recordNotificationSent(audit: AuditService, manager: EntityManager, n: SentNotification, actor: Principal, requestId: string | null) {
  return audit.append(manager, {
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
  return missing.length;
}
