import type { GraphQLResolveInfo } from "graphql";
import type { MiddlewareFn } from "type-graphql";
import type { RequestContext } from "./context";
import type { AuditService } from "./modules/audit/audit.service";
import { auditActionOf } from "./modules/audit/audited";
import { allowedRoles, authorize } from "./shared/auth/allow";
import { ErrorCode, errorCodeOf, UnauthenticatedError } from "./shared/errors";
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
    if (info.parentType !== info.schema.getMutationType()) {
      if (!action) {
        authorize(ctx.principal, roles);
        return next();
      }
      // An audited read (an export): the service writes its ALLOWED entry, knowing what it read;
      // a refusal is written here, whoever refused it.
      try {
        authorize(ctx.principal, roles);
        return await next();
      } catch (error) {
        const code = errorCodeOf(error);
        const principal = ctx.principal;
        if (principal && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
          await audit
            .appendReads(ctx, [{ tenantId: ctx.audit.tenantId !== undefined ? ctx.audit.tenantId : principal.tenantId, action, purpose: ctx.audit.purpose ?? null, errorCode: code, targetType: ctx.audit.targetType ?? info.returnType.toString().replace(/[[\]!]/g, ""), targetId: ctx.audit.targetId ?? null }])
            .catch((auditError) => ctx.log.error({ error: loggableError(auditError), action }, "could not write the audit entry of a refused read"));
        }
        throw error;
      }
    }

    if (!action) throw new Error(`Mutation.${info.fieldName} declares no audit action`);
    const principal = ctx.principal;
    // An anonymous caller names no actor to audit: refused before anything else.
    if (!principal) throw new UnauthenticatedError();
    ctx.audit = {};
    const entry = (outcome: "ALLOWED" | "DENIED", result?: unknown, errorCode?: ErrorCode) => {
      const draft = ctx.audit;
      const resultId = (result as { id?: unknown } | null)?.id;
      return {
        tenantId: draft.tenantId !== undefined ? draft.tenantId : principal.tenantId,
        occurredAt: ctx.clock.now(),
        actor: principal,
        action,
        targetType: draft.targetType ?? (typeof resultId === "string" ? info.returnType.toString().replace(/[[\]!]/g, "") : null),
        targetId: draft.targetId ?? (typeof resultId === "string" ? resultId : null),
        purpose: draft.purpose ?? null,
        outcome,
        errorCode: errorCode ?? null,
        details: draft.details ?? null,
        requestId: ctx.requestId,
      };
    };

    try {
      authorize(principal, roles);
      // A savepoint in the request's transaction: the mutation and its entry, or neither.
      const result = await em(ctx).transaction(async (manager) => {
        const value: unknown = await next();
        await audit.append(manager, entry("ALLOWED", value));
        return value;
      });
      // Committed before the result is returned: an acknowledged write is durable.
      await ctx.session.checkpoint();
      ctx.loaders.clear();
      return result;
    } catch (error) {
      const code = errorCodeOf(error);
      if (code !== ErrorCode.INTERNAL_SERVER_ERROR) {
        try {
          await audit.append(em(ctx), entry("DENIED", undefined, code));
          await ctx.session.checkpoint();
        } catch (auditError) {
          ctx.log.error({ error: loggableError(auditError), action }, "could not write the audit entry of a refused mutation");
        }
      }
      throw error;
    }
  };
}
