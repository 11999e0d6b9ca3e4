import type { GraphQLField } from "graphql";
import { Extensions } from "type-graphql";
import { ForbiddenError, UnauthenticatedError } from "../errors";
import type { Principal } from "./principal";
import type { Role } from "./role";

/**
 * Declares which roles may resolve a field. Every Query and Mutation field must carry one
 * (the root-field guard refuses a field without it, and a test walks the schema for it);
 * other fields may, to narrow access further.
 */
export function Allow(...roles: Role[]): MethodDecorator & PropertyDecorator {
  if (roles.length === 0) throw new Error("@Allow needs at least one role");
  return Extensions({ roles });
}

/** The roles a field declares, or undefined when it declares none. */
export function allowedRoles(field: GraphQLField<unknown, unknown>): readonly Role[] | undefined {
  const roles = field.extensions?.roles;
  return Array.isArray(roles) ? (roles as Role[]) : undefined;
}

/** Throws unless the principal holds one of the roles: anonymous is UNAUTHENTICATED, a wrong role FORBIDDEN. */
export function authorize(principal: Principal | null, roles: readonly Role[]): Principal {
  if (!principal) throw new UnauthenticatedError();
  if (!roles.includes(principal.role)) {
    throw new ForbiddenError(`Role ${principal.role} may not perform this operation; it is open to ${roles.join(", ")}.`);
  }
  return principal;
}
