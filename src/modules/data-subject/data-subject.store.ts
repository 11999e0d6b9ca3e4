import type { EntityManager } from "typeorm";
import type { DataSubjectStatus } from "./data-subject.status";

/**
 * Statements and typed fragments over data_subject that other features compose or call.
 */

/**
 * The named subjects of the tenant with their status, locked FOR KEY SHARE until the caller's
 * transaction ends (in id order, so two writers cannot deadlock): a deletion, which takes the
 * subject FOR UPDATE, waits for the write or is seen by it.
 */
export function subjectsHeldForWrite(
  manager: EntityManager,
  tenantId: string,
  ids: readonly string[],
): Promise<Array<{ id: string; status: DataSubjectStatus }>> {
  return manager.query(`SELECT id, status FROM data_subject WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR KEY SHARE`, [
    tenantId,
    [...new Set(ids)],
  ]);
}

/** A subquery of the ids of the tenant's deleted subjects whose purge is due at `nowSql`. */
export function purgeDueSubjectIdsSql(tenantIdSql: string, nowSql: string): string {
  return `SELECT id FROM data_subject WHERE tenant_id = ${tenantIdSql} AND status = 'DELETED' AND purge_due_at <= ${nowSql}`;
}
