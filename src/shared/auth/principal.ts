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

/** Which claims of a token hold the role, the tenant and the data subject (an identity provider names them its own way). */
export interface ClaimNames {
  role: string;
  tenant: string;
  dataSubject: string;
}

export const DEFAULT_CLAIM_NAMES: ClaimNames = Object.freeze({ role: "role", tenant: "tenantId", dataSubject: "dataSubjectId" });

/**
 * The role a role claim names. An array (Entra ID's `roles`, Keycloak's mapped roles) may carry
 * the provider's other roles beside ours: exactly one of Custodian's must be among them, or the
 * token is refused (two would leave the caller's rights ambiguous).
 */
function roleOf(claim: unknown): unknown {
  if (!Array.isArray(claim)) return claim;
  const ours = claim.filter((value) => typeof value === "string" && (Object.values(Role) as string[]).includes(value));
  if (ours.length !== 1) throw new InvalidClaimsError(`the role claim must hold exactly one of the contract's roles (it holds ${ours.length})`);
  return ours[0];
}

/**
 * Turns verified JWT claims into a principal, refusing any token whose claims do not fit its
 * role: a tenant role must name a tenant, a data subject its subject, and no other role may.
 */
export function principalFromClaims(claims: Record<string, unknown>, names: ClaimNames = DEFAULT_CLAIM_NAMES): Principal {
  const { sub } = claims;
  const role = roleOf(claims[names.role]);
  const tenantId = claims[names.tenant];
  const dataSubjectId = claims[names.dataSubject];
  if (typeof sub !== "string" || sub.length === 0 || sub.length > 255) {
    throw new InvalidClaimsError("claim `sub` must be a non-empty string of at most 255 characters");
  }
  if (typeof role !== "string" || !(Object.values(Role) as string[]).includes(role)) {
    throw new InvalidClaimsError(`claim \`${names.role}\` must be one of the contract's roles`);
  }
  const typedRole = role as Role;
  if (isTenantRole(typedRole)) {
    if (typeof tenantId !== "string" || !isUuid(tenantId)) {
      throw new InvalidClaimsError(`role ${role} needs a \`${names.tenant}\` claim holding a tenant id`);
    }
  } else if (tenantId !== undefined) {
    throw new InvalidClaimsError(`role ${role} acts across tenants and must not carry a \`${names.tenant}\` claim`);
  }
  if (typedRole === Role.DATA_SUBJECT) {
    if (typeof dataSubjectId !== "string" || !isUuid(dataSubjectId)) {
      throw new InvalidClaimsError(`role DATA_SUBJECT needs a \`${names.dataSubject}\` claim holding a data subject id`);
    }
  } else if (dataSubjectId !== undefined) {
    throw new InvalidClaimsError(`only role DATA_SUBJECT carries a \`${names.dataSubject}\` claim`);
  }
  return {
    subject: sub,
    role: typedRole,
    tenantId: isTenantRole(typedRole) ? (tenantId as string).toLowerCase() : null,
    dataSubjectId: typedRole === Role.DATA_SUBJECT ? (dataSubjectId as string).toLowerCase() : null,
  };
}
