import { registerEnumType } from "type-graphql";

/** The contract's principals. */
export enum Role {
  OPERATOR = "OPERATOR",
  TENANT_ADMIN = "TENANT_ADMIN",
  INTEGRATION = "INTEGRATION",
  DATA_SUBJECT = "DATA_SUBJECT",
  AUDITOR = "AUDITOR",
  PARTNER = "PARTNER",
}

export const ALL_ROLES: readonly Role[] = Object.values(Role);

/** Roles that act within exactly one tenant; their tokens must name it. */
export const TENANT_ROLES: readonly Role[] = [Role.TENANT_ADMIN, Role.INTEGRATION, Role.DATA_SUBJECT, Role.AUDITOR];

export function isTenantRole(role: Role): boolean {
  return TENANT_ROLES.includes(role);
}

registerEnumType(Role, {
  name: "Role",
  description: "Who is calling: each token names exactly one role.",
  valuesConfig: {
    OPERATOR: { description: "Runs the service: reference data, third-party registry, incidents, retention. Never reads personal data values." },
    TENANT_ADMIN: { description: "Administers one tenant." },
    INTEGRATION: { description: "A system of one tenant that writes and reads records through the API." },
    DATA_SUBJECT: { description: "A person whose data one tenant holds; sees and corrects only their own records." },
    AUDITOR: { description: "Read-only over one tenant's audit log and compliance report; never reads values." },
    PARTNER: { description: "An outside party that reads the schema and public reference data only." },
  },
});
