import type { EntityTarget, ObjectLiteral, SelectQueryBuilder } from "typeorm";
import type { Principal } from "../auth/principal";
import { dataScope } from "../auth/scope";
import { type DbContext, em } from "./database";

/**
 * A query over `entity` limited to what the caller may reach (DataScope): every row for
 * operators, its tenant's for a tenant role (and, where the rows have a subject column, its own
 * for a data subject); null for callers who reach none.
 */
export function scopedQuery<E extends ObjectLiteral>(
  ctx: DbContext & { principal: Principal | null },
  entity: EntityTarget<E>,
  alias: string,
  columns: { tenant: string; subject?: string },
): SelectQueryBuilder<E> | null {
  if (!ctx.principal) throw new Error("scopedQuery called on an anonymous request: the field declares no roles");
  const scope = dataScope(ctx.principal);
  if (scope.kind === "none") return null;
  const query = em(ctx).getRepository(entity).createQueryBuilder(alias);
  if (scope.kind === "tenant") {
    query.andWhere(`${alias}.${columns.tenant} = :scopeTenant`, { scopeTenant: scope.tenantId });
    if (columns.subject && scope.dataSubjectId) query.andWhere(`${alias}.${columns.subject} = :scopeSubject`, { scopeSubject: scope.dataSubjectId });
  }
  return query;
}
