import { isUuid } from "../ids";
import { Role, isTenantRole } from "./role";

/** Who is calling, as established from a verified token. */
export interface Principal {
  subject: string;
  role: Role;
  /** Set for tenant roles (and only for them). */
  tenantId: string | null;
  /** Set for DATA_SUBJECT (and only for it). */
  dataSubjectId: string | null;
}

export class InvalidClaimsError extends Error {}

/**
 * Turns verified JWT claims into a principal, refusing any token whose claims do not fit its
 * role: a tenant role must name a tenant, a data subject its subject, and no other role may.
 */
export function principalFromClaims(claims: Record<string, unknown>): Principal {
  const { sub, role, tenantId, dataSubjectId } = claims;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > 255) {
    throw new InvalidClaimsError("claim `sub` must be a non-empty string of at most 255 characters");
  }
  if (typeof role !== "string" || !(Object.values(Role) as string[]).includes(role)) {
    throw new InvalidClaimsError("claim `role` must be one of the contract's roles");
  }
  const typedRole = role as Role;
  if (isTenantRole(typedRole)) {
    if (typeof tenantId !== "string" || !isUuid(tenantId)) {
      throw new InvalidClaimsError(`role ${role} needs a \`tenantId\` claim holding a tenant id`);
    }
  } else if (tenantId !== undefined) {
    throw new InvalidClaimsError(`role ${role} acts across tenants and must not carry a \`tenantId\` claim`);
  }
  if (typedRole === Role.DATA_SUBJECT) {
    if (typeof dataSubjectId !== "string" || !isUuid(dataSubjectId)) {
      throw new InvalidClaimsError("role DATA_SUBJECT needs a `dataSubjectId` claim holding a data subject id");
    }
  } else if (dataSubjectId !== undefined) {
    throw new InvalidClaimsError("only role DATA_SUBJECT carries a `dataSubjectId` claim");
  }
  return {
    subject: sub,
    role: typedRole,
    tenantId: isTenantRole(typedRole) ? (tenantId as string).toLowerCase() : null,
    dataSubjectId: typedRole === Role.DATA_SUBJECT ? (dataSubjectId as string).toLowerCase() : null,
  };
}
