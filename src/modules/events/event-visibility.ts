import type { Principal } from "../../shared/auth/principal";
import { Role } from "../../shared/auth/role";
import { isSubjectRequestEvent } from "./event-type";

/** What a subscriber is told of an event: its owner, type and (for a subject's own requests) the subject. */
export interface VisibleEvent {
  tenantId: string | null;
  type: string;
  data: Record<string, unknown>;
}

/**
 * Who is told of which event (DOMAIN rule 39): TENANT_ADMIN and AUDITOR their tenant's events;
 * INTEGRATION its tenant's except subject requests'; DATA_SUBJECT only the subject-request
 * events of its own requests; OPERATOR operator events (no tenant's); PARTNER none.
 */
export function mayReceive(principal: Principal, event: VisibleEvent): boolean {
  const ownTenant = event.tenantId !== null && event.tenantId === principal.tenantId?.toLowerCase();
  switch (principal.role) {
    case Role.OPERATOR:
      return event.tenantId === null;
    case Role.TENANT_ADMIN:
    case Role.AUDITOR:
      return ownTenant;
    case Role.INTEGRATION:
      return ownTenant && !isSubjectRequestEvent(event.type);
    case Role.DATA_SUBJECT:
      return ownTenant && isSubjectRequestEvent(event.type) && event.data.dataSubjectId === principal.dataSubjectId?.toLowerCase();
    default:
      return false;
  }
}

/** Whether a role may subscribe at all (a PARTNER is told of nothing). */
export function maySubscribe(principal: Principal): boolean {
  return principal.role !== Role.PARTNER;
}
