import type { ObjectLiteral, SelectQueryBuilder } from "typeorm";
import type { DataScope } from "../auth/scope";

/**
 * Narrows a query to what a caller's data scope reaches, the one way every store writes it: every
 * row for operators, its tenant's for a tenant role (and, where the rows have a subject column,
 * its own for a data subject); null when the caller reaches none. `columns` are SQL over the
 * query's alias, e.g. `r.tenant_id`.
 */
export function scopedTo<E extends ObjectLiteral>(
  query: SelectQueryBuilder<E>,
  scope: DataScope,
  columns: { tenant: string; subject?: string },
): SelectQueryBuilder<E> | null {
  if (scope.kind === "none") return null;
  if (scope.kind === "tenant") {
    query.andWhere(`${columns.tenant} = :scopeTenant`, { scopeTenant: scope.tenantId });
    if (columns.subject && scope.dataSubjectId) query.andWhere(`${columns.subject} = :scopeSubject`, { scopeSubject: scope.dataSubjectId });
  }
  return query;
}
