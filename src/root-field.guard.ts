import { defaultFieldResolver, isObjectType, type GraphQLField, type GraphQLFieldResolver, type GraphQLSchema } from "graphql";
import { onControl, onTenant, type RequestContext } from "./context";
import type { AuditService } from "./modules/audit/audit.service";
import { auditActionOf } from "./shared/audit/audited";
import { allowedRoles, authorize } from "./shared/auth/allow";
import { ErrorCode, errorCodeOf, UnauthenticatedError } from "./shared/errors";
import type { Principal } from "./shared/auth/principal";
import { em } from "./shared/db/database";
import { loggableError } from "./shared/logging";

type Resolver = GraphQLFieldResolver<unknown, RequestContext>;

/** Where an audit entry's chain lives: a tenant's in its region, the operators' (no tenant) in control. */
function chainContext(ctx: RequestContext, tenantId: string | null): Promise<RequestContext> {
  return tenantId ? onTenant(ctx, tenantId) : onControl(ctx);
}

/**
 * Puts the guard around every Query and Mutation field and every other field that declares
 * roles; the schema is changed in place and returned. Other fields are left alone: the guard had
 * nothing to check there, and as a type-graphql global middleware it cost a promise per field,
 * a large part of a 400-record dashboard's time.
 */
export function guardFields(schema: GraphQLSchema, audit: AuditService): GraphQLSchema {
  const roots = [schema.getQueryType(), schema.getMutationType()];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__")) continue;
    const isRoot = roots.includes(type);
    for (const field of Object.values(type.getFields())) {
      if (!isRoot && !allowedRoles(field)) continue;
      field.resolve = fieldGuard(audit, `${type.name}.${field.name}`, field, type === schema.getMutationType(), field.resolve ?? defaultFieldResolver);
    }
  }
  return schema;
}

/**
 * The guard of one field. It fails closed: a Query or Mutation field that declares no roles
 * cannot be called. Fields that declare roles are authorized here. Each mutation is one unit of
 * work: a transaction of the request's session (RequestSession.transaction) holding the change
 * and its ALLOWED audit entry, committed before the result is returned; a refused mutation is
 * rolled back and leaves a DENIED entry with its error code, committed on its own. A plain read
 * stays synchronous when its resolver is.
 */
function fieldGuard(audit: AuditService, name: string, field: GraphQLField<unknown, unknown>, isMutation: boolean, resolve: Resolver): Resolver {
  const roles = allowedRoles(field);
  if (!roles) {
    return () => {
      throw new Error(`${name} declares no roles`);
    };
  }
  const action = auditActionOf(field);
  if (!action) {
    if (isMutation) {
      return () => {
        throw new Error(`${name} declares no audit action`);
      };
    }
    return (root, args, ctx, info) => {
      authorize(ctx.principal, roles);
      return resolve(root, args, ctx, info);
    };
  }
  const returnTypeName = field.type.toString().replace(/[[\]!]/g, "");
  return async (root, args, ctx, info) => {
    const next = () => resolve(root, args, ctx, info);
    const principal = ctx.principal;
    const entry = (actor: Principal, outcome: "ALLOWED" | "DENIED", targetType: string | null, result?: unknown, errorCode?: ErrorCode) => {
      const draft = ctx.audit;
      const resultId = (result as { id?: unknown } | null)?.id;
      return {
        tenantId: draft.tenantId !== undefined ? draft.tenantId : actor.tenantId,
        occurredAt: ctx.clock.now(),
        actor,
        action,
        targetType: draft.targetType ?? (typeof resultId === "string" ? returnTypeName : targetType),
        targetId: draft.targetId ?? (typeof resultId === "string" ? resultId : null),
        purpose: draft.purpose ?? null,
        outcome,
        errorCode: errorCode ?? null,
        details: draft.details ?? null,
        requestId: ctx.requestId,
      };
    };
    /** A refusal leaves a DENIED entry with its code, committed on its own; an unexpected failure does not. */
    const recordRefusal = async (error: unknown, targetType: string | null) => {
      const code = errorCodeOf(error);
      if (!principal || code === ErrorCode.INTERNAL_SERVER_ERROR) return;
      try {
        // One statement, committed on its own (the mutation's transaction, if any, is gone).
        const denied = entry(principal, "DENIED", targetType, undefined, code);
        await audit.append(em(await chainContext(ctx, denied.tenantId)), denied);
      } catch (auditError) {
        ctx.log.error({ error: loggableError(auditError), action }, "could not write the audit entry of a refusal");
      }
    };

    if (!isMutation) {
      // An audited read (an export): the service writes its ALLOWED entry, knowing what it read;
      // a refusal is written here, whoever refused it.
      try {
        authorize(principal, roles);
        return await next();
      } catch (error) {
        await recordRefusal(error, returnTypeName);
        throw error;
      }
    }

    // An anonymous caller names no actor to audit: refused before anything else.
    if (!principal) throw new UnauthenticatedError();
    ctx.audit = {};
    try {
      authorize(principal, roles);
      // The mutation and its entry in one transaction, committed before the result is returned:
      // an acknowledged write is durable, and a refused one leaves nothing.
      const result = await ctx.unit.transaction(ctx.database, async () => {
        const value: unknown = await next();
        const allowed = entry(principal, "ALLOWED", null, value);
        await audit.append(em(await chainContext(ctx, allowed.tenantId)), allowed);
        return value;
      });
      ctx.loaders.clear();
      return result;
    } catch (error) {
      await recordRefusal(error, null);
      throw error;
    }
  };
}
