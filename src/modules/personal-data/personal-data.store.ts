import type { EntityManager } from "typeorm";
import type { ProcessingPurpose } from "../purpose/processing-purpose";
import type { DataCategory, RecordStatus } from "./personal-data.enums";

/**
 * Statements and typed fragments over personal_data_record that other features compose or call.
 */

/** The categories of those of `ids` that belong to the subject (what a subject may see of a transfer). */
export function categoriesOfSubjectRecords(
  manager: EntityManager,
  subjectId: string | null,
  ids: readonly string[],
): Promise<Array<{ id: string; category: DataCategory }>> {
  return manager.query(`SELECT id, category FROM personal_data_record WHERE data_subject_id = $1 AND id = ANY($2::uuid[])`, [subjectId, ids]);
}

/** Records of the tenant about to be shared, held FOR SHARE until the share commits (a deletion waits, or goes first). */
export function recordsHeldForShare(
  manager: EntityManager,
  tenantId: string,
  ids: readonly string[],
): Promise<Array<{ id: string; status: RecordStatus; category: DataCategory; purposes: ProcessingPurpose[] }>> {
  return manager.query(`SELECT id, status, category, purposes FROM personal_data_record WHERE tenant_id = $1 AND id = ANY($2::uuid[]) FOR SHARE`, [
    tenantId,
    ids,
  ]);
}

/**
 * The compliance report's record figures for one tenant, as scalar expressions. A record is
 * overdue when pending past its due date, when `tenantPurgeDue` (its ended tenant's purge is
 * due), or when its subject is in `purgeDueSubjects` (a subquery of ids); it breaks residency
 * when stored outside `locationSql`.
 */
export function recordFiguresSql(
  tenantIdSql: string,
  nowSql: string,
  context: { tenantPurgeDue: string; purgeDueSubjects: string; locationSql: string },
): Record<"active" | "pending" | "overdue" | "oldestDue" | "residency", string> {
  const of = (where: string, what = "count(*)") => `(SELECT ${what} FROM personal_data_record r WHERE r.tenant_id = ${tenantIdSql} AND (${where}))`;
  return {
    active: of("r.status = 'ACTIVE'"),
    pending: of("r.status = 'PENDING_DELETION'"),
    overdue: of(
      `(r.status = 'PENDING_DELETION' AND r.purge_due_at <= ${nowSql}) OR ${context.tenantPurgeDue} OR r.data_subject_id IN (${context.purgeDueSubjects})`,
    ),
    oldestDue: of("r.status = 'PENDING_DELETION'", "min(r.purge_due_at)"),
    residency: of(`r.storage_location_code <> ${context.locationSql}`),
  };
}
