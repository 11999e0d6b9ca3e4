import type { GraphQLField } from "graphql";
import { Extensions } from "type-graphql";

/**
 * Names the audit action of a mutation, e.g. TENANT_CREATED. Every Mutation field carries one:
 * the root-field guard refuses to run a mutation without it, and a test walks the schema for it.
 */
export function Audited(action: string): MethodDecorator {
  if (!/^[A-Z][A-Z_]+$/.test(action)) throw new Error(`audit action must be UPPER_SNAKE_CASE, got ${action}`);
  return Extensions({ auditAction: action });
}

export function auditActionOf(field: GraphQLField<unknown, unknown>): string | undefined {
  const action = field.extensions?.auditAction;
  return typeof action === "string" ? action : undefined;
}
