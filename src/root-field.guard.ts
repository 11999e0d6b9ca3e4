import type { GraphQLResolveInfo } from "graphql";
import type { MiddlewareFn } from "type-graphql";
import type { RequestContext } from "./context";
import type { AuditService } from "./modules/audit/audit.service";
import { auditActionOf } from "./modules/audit/audited";
import { allowedRoles, authorize } from "./shared/auth/allow";
import { ErrorCode, errorCodeOf, UnauthenticatedError } from "./shared/errors";
import type { Principal } from "./shared/auth/principal";
import { em } from "./shared/db/database";
import { loggableError } from "./shared/logging";

function isRoot(info: GraphQLResolveInfo): boolean {
  return info.parentType === info.schema.getQueryType() || info.parentType === info.schema.getMutationType();
}

/**
 * Runs around every field. It fails closed: a Query or Mutation field that declares no roles
 * cannot be called. Fields that declare roles are authorized here. Each mutation runs as one
 * unit of work: a savepoint in the request's transaction, holding the change and its ALLOWED
 * audit entry, committed before the result is returned; a refused mutation is rolled back to the
 * savepoint and leaves a DENIED entry with its error code, committed the same way.
 */
export function rootFieldGuard(audit: AuditService): MiddlewareFn<RequestContext> {
  return async ({ context: ctx, info }, next) => {
    const field = info.parentType.getFields()[info.fieldName];
    const roles = allowedRoles(field);
    if (!roles) {
      if (isRoot(info)) throw new Error(`${info.parentType.name}.${info.fieldName} declares no roles`);
      return next();
    }
    const action = auditActionOf(field);
    const isMutation = info.parentType === info.schema.getMutationType();
    if (!action) {
      if (isMutation) throw new Error(`Mutation.${info.fieldName} declares no audit action`);
      authorize(ctx.principal, roles);
      return next();
    }
    const principal = ctx.principal;
    const returnTypeName = info.returnType.toString().replace(/[[\]!]/g, "");
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
        await audit.append(em(ctx), entry(principal, "DENIED", targetType, undefined, code));
        await ctx.session.checkpoint();
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
      // A savepoint in the request's transaction: the mutation and its entry, or neither.
      const result = await em(ctx).transaction(async (manager) => {
        const value: unknown = await next();
        await audit.append(manager, entry(principal, "ALLOWED", null, value));
        return value;
      });
      // Committed before the result is returned: an acknowledged write is durable.
      await ctx.session.checkpoint();
      ctx.loaders.clear();
      return result;
    } catch (error) {
      await recordRefusal(error, null);
      throw error;
    }
  };
}
