import type { EntityManager } from "typeorm";
import { countedChange } from "../../shared/db/database";
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

// Retention (DOMAIN rules 5, 6 and 9), run on the maintenance pool in the caller's batch transaction.

/** Records whose purge is due at `nowSql`: pending and past their due date (DOMAIN rule 6). */
const dueRecord = (alias: string, nowSql: string) => `${alias}.status = 'PENDING_DELETION' AND ${alias}.purge_due_at <= ${nowSql}`;

/** True when the tenant whose id is `tenantIdSql` has records due at `nowSql`. */
export function dueRecordsExistSql(tenantIdSql: string, nowSql: string): string {
  return `EXISTS (SELECT 1 FROM personal_data_record r WHERE r.tenant_id = ${tenantIdSql} AND ${dueRecord("r", nowSql)})`;
}

/** True when the subject (columns of alias `s`) still has records, or only records not due at `nowSql` when given. */
export function subjectHasRecordsSql(s: string, notDueAt?: string): string {
  const notDue = notDueAt ? ` AND NOT (${dueRecord("r", notDueAt)})` : "";
  return `EXISTS (SELECT 1 FROM personal_data_record r WHERE r.tenant_id = ${s}.tenant_id AND r.data_subject_id = ${s}.id${notDue})`;
}

/** Deletes up to `limit` of the tenant's due records; returns how many. */
export function purgeDueRecords(manager: EntityManager, tenantId: string, now: Date, limit: number): Promise<number> {
  return countedChange(
    manager,
    `DELETE FROM personal_data_record WHERE ctid = ANY(ARRAY(
       SELECT ctid FROM personal_data_record r WHERE r.tenant_id = $1 AND ${dueRecord("r", "$2")} LIMIT $3)) RETURNING 1`,
    [tenantId, now, limit],
  );
}

/** Deletes up to `limit` of the tenant's records, due or not (its data purge, DOMAIN rule 5); returns how many. */
export function purgeRecordsOfTenant(manager: EntityManager, tenantId: string, limit: number): Promise<number> {
  return countedChange(
    manager,
    `DELETE FROM personal_data_record WHERE ctid = ANY(ARRAY(SELECT ctid FROM personal_data_record WHERE tenant_id = $1 LIMIT $2)) RETURNING 1`,
    [tenantId, limit],
  );
}

/** Deletes up to `limit` of the tenant's idempotency keys; returns how many. */
export function purgeKeysOfTenant(manager: EntityManager, tenantId: string, limit: number): Promise<number> {
  return countedChange(
    manager,
    `DELETE FROM idempotency_key WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_key WHERE tenant_id = $1 LIMIT $2)) RETURNING 1`,
    [tenantId, limit],
  );
}

/** Deletes up to `limit` idempotency keys past their expiry, skipping ones another run holds; returns how many. */
export function purgeExpiredKeys(manager: EntityManager, now: Date, limit: number): Promise<number> {
  return countedChange(
    manager,
    `DELETE FROM idempotency_key WHERE ctid = ANY(ARRAY(
       SELECT ctid FROM idempotency_key WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)) RETURNING 1`,
    [now, limit],
  );
}

/** Scalar counts of what a purge at `nowSql` would delete, with `dueTenantIds` a subquery of the tenants whose data purge is due. */
export function purgeableCountsSql(nowSql: string, dueTenantIds: string): { records: string; keys: string } {
  return {
    records: `(SELECT count(*) FROM personal_data_record r WHERE (${dueRecord("r", nowSql)}) OR r.tenant_id IN (${dueTenantIds}))`,
    keys: `(SELECT count(*) FROM idempotency_key WHERE expires_at <= ${nowSql} OR tenant_id IN (${dueTenantIds}))`,
  };
}

/** The ids of every record of the subject, whatever its status. */
export async function recordIdsOfSubject(manager: EntityManager, tenantId: string, subjectId: string): Promise<string[]> {
  const rows: Array<{ id: string }> = await manager.query(`SELECT id FROM personal_data_record WHERE tenant_id = $1 AND data_subject_id = $2`, [
    tenantId,
    subjectId,
  ]);
  return rows.map((r) => r.id);
}
