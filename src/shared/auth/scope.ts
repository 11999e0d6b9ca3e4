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
