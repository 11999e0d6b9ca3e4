import type { Principal } from "./principal";
import { isTenantRole } from "./role";

/**
 * May this principal see objects of this tenant? Operators see every tenant; tenant roles only
 * their own; partners none. Callers answer "not found" when it says no, so a tenant role
 * never learns that another tenant's object exists.
 */
export function canSeeTenant(principal: Principal, tenantId: string): boolean {
  if (principal.role === "OPERATOR") return true;
  return isTenantRole(principal.role) && principal.tenantId === tenantId.toLowerCase();
}

/**
 * Which tenants' and subjects' data this principal may reach: every tenant for operators, one
 * tenant for tenant roles, one subject for a data subject, nothing for partners. Queries apply
 * it in their WHERE clause, so an object out of scope is simply not found.
 */
export type DataScope = { kind: "all" } | { kind: "tenant"; tenantId: string; dataSubjectId: string | null } | { kind: "none" };

export function dataScope(principal: Principal): DataScope {
  if (principal.role === "OPERATOR") return { kind: "all" };
  if (isTenantRole(principal.role) && principal.tenantId) {
    return { kind: "tenant", tenantId: principal.tenantId, dataSubjectId: principal.role === "DATA_SUBJECT" ? principal.dataSubjectId : null };
  }
  return { kind: "none" };
}
