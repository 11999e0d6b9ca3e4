import type { AuditAction } from "./audit-actions";
import type { ErrorCode } from "../errors";

/**
 * What the current mutation touched, filled in by the service as it learns it, and written
 * by the root-field guard as the mutation's audit entry (ALLOWED in the mutation's transaction,
 * or DENIED in a transaction of its own).
 */
export interface AuditDraft {
  /** undefined: the caller's own tenant; null: no tenant (the operators' chain). */
  tenantId?: string | null;
  targetType?: string | null;
  targetId?: string | null;
  purpose?: string | null;
  details?: AuditDetails;
}

/**
 * Ids, counts, codes and field names only: never a personal data value. The type keeps
 * free-form objects out; what goes into the strings is reviewed with each service.
 */
export type AuditDetails = Record<string, string | number | boolean | null | string[]>;

export function auditTarget(ctx: { audit: AuditDraft }, draft: AuditDraft): void {
  Object.assign(ctx.audit, draft);
}

/** The entry of a read (a value read, an export), written by the reading service itself. */
export interface ReadAuditDraft {
  tenantId: string | null;
  action: AuditAction;
  purpose: string | null;
  errorCode?: ErrorCode | null;
  targetType: string;
  targetId?: string | null;
  details?: AuditDetails;
}
