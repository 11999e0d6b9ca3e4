import type { GraphQLField } from "graphql";
import { Extensions } from "type-graphql";
import { type AuditAction, isAuditAction } from "./audit-actions";

/**
 * Names the audit action of a mutation, e.g. TENANT_CREATED. Every Mutation field carries one:
 * the root-field guard refuses to run a mutation without it, and a test walks the schema for it.
 */
export function Audited(action: AuditAction): MethodDecorator {
  return Extensions({ auditAction: action });
}

export function auditActionOf(field: GraphQLField<unknown, unknown>): AuditAction | undefined {
  const action = field.extensions?.auditAction;
  return typeof action === "string" && isAuditAction(action) ? action : undefined;
}
