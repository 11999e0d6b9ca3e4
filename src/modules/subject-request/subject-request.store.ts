import type { EntityManager, SelectQueryBuilder } from "typeorm";
import type { DataScope } from "../../shared/auth/scope";
import { scopedTo } from "../../shared/db/scoped-query";
import { returning, countedChange } from "../../shared/db/database";
import { byteaArray } from "../../shared/db/bytes";
import { SubjectRequestEntity } from "./subject-request.entity";
import { DUE_SOON_MS, type SubjectRequestStatus } from "./subject-request-policy";

/** The subject_request table: every statement over it. */

function requests(manager: EntityManager, scope: DataScope): SelectQueryBuilder<SubjectRequestEntity> | null {
  return scopedTo(manager.getRepository(SubjectRequestEntity).createQueryBuilder("r"), scope, { tenant: "r.tenant_id", subject: "r.data_subject_id" });
}

/** The requests among `ids` that `scope` reaches; `lock` holds them FOR UPDATE. */
export function visibleRequests(manager: EntityManager, scope: DataScope, ids: readonly string[], lock = false): Promise<SubjectRequestEntity[]> {
  const query = requests(manager, scope)?.andWhere("r.id IN (:...ids)", { ids });
  if (!query) return Promise.resolve([]);
  if (lock) query.setLock("pessimistic_write");
  return query.getMany();
}

/** A page's query (alias `r`) for parentPage, its parent `r.tenant_id`; `overdue` as of `now`. */
export function requestPageQuery(
  manager: EntityManager,
  scope: DataScope,
  filter: { status?: SubjectRequestStatus | null; overdue?: boolean | null; now: Date },
): SelectQueryBuilder<SubjectRequestEntity> | null {
  const query = requests(manager, scope);
  if (!query) return null;
  if (filter.status) query.andWhere("r.status = :status", { status: filter.status });
  if (filter.overdue === true) query.andWhere("r.status = 'OPEN' AND r.due_at < :now", { now: filter.now });
  if (filter.overdue === false) query.andWhere("NOT (r.status = 'OPEN' AND r.due_at < :now)", { now: filter.now });
  return query;
}

/** A subject's requests, oldest first (the caller reaches the subject). */
export function requestsOfSubjects(manager: EntityManager, subjectIds: readonly string[]): Promise<SubjectRequestEntity[]> {
  return manager
    .getRepository(SubjectRequestEntity)
    .createQueryBuilder("r")
    .where("r.data_subject_id IN (:...subjectIds)", { subjectIds })
    .orderBy("r.created_at")
    .addOrderBy("r.id")
    .getMany();
}

/** Throws the driver's unique violation when the subject has an open request of the kind. */
export async function insertRequest(manager: EntityManager, request: SubjectRequestEntity): Promise<void> {
  await manager.getRepository(SubjectRequestEntity).insert(request);
}

export async function updateRequest(manager: EntityManager, id: string, change: Partial<SubjectRequestEntity>): Promise<void> {
  await manager.getRepository(SubjectRequestEntity).update({ id }, change);
}

/** An export of the subject was made: its open ACCESS and PORTABILITY requests may complete with it. */
export async function noteExport(manager: EntityManager, tenantId: string, subjectId: string, at: Date): Promise<void> {
  await manager.query(
    `UPDATE subject_request SET exported_at = $3
      WHERE tenant_id = $1 AND data_subject_id = $2 AND kind IN ('ACCESS', 'PORTABILITY') AND status IN ('OPEN', 'AWAITING_IDENTITY')`,
    [tenantId, subjectId, at],
  );
}

/** The compliance report's counts for the tenant whose id is `tenantIdSql`: open (with awaiting identity) and overdue at `nowSql`. */
export function requestCountsSql(tenantIdSql: string, nowSql: string): { open: string; overdue: string } {
  const of = `FROM subject_request WHERE tenant_id = ${tenantIdSql}`;
  return {
    open: `(SELECT count(*) ${of} AND status IN ('OPEN', 'AWAITING_IDENTITY'))`,
    overdue: `(SELECT count(*) ${of} AND status = 'OPEN' AND due_at < ${nowSql})`,
  };
}

export interface DeadlineHit {
  id: string;
  tenant_id: string;
  data_subject_id: string;
  kind: string;
  due_at: Date;
}

/**
 * Marks the OPEN requests whose due date is `soon` (within seven days) or `overdue` (passed) at
 * `now` and were not marked for that due date yet, and returns them: each due date raises its
 * events once, however many instances run this (the UPDATE's row locks serialise them, and the
 * second finds the mark set).
 */
export function markDeadlines(manager: EntityManager, which: "soon" | "overdue", now: Date, dryRun = false): Promise<DeadlineHit[]> {
  const column = which === "soon" ? "due_soon_raised_for" : "overdue_raised_for";
  const reached = which === "soon" ? "due_at - make_interval(secs => $2::bigint / 1000.0) <= $1::timestamptz" : "due_at < $1::timestamptz";
  const where = `status = 'OPEN' AND ${reached} AND ${column} IS DISTINCT FROM due_at`;
  const params = which === "soon" ? [now, DUE_SOON_MS] : [now];
  if (dryRun) return manager.query(`SELECT id, tenant_id, data_subject_id, kind, due_at FROM subject_request WHERE ${where}`, params);
  return returning(manager, `UPDATE subject_request SET ${column} = due_at WHERE ${where} RETURNING id, tenant_id, data_subject_id, kind, due_at`, params);
}

/** A purged tenant's requests. */
export function purgeRequestsOfTenant(manager: EntityManager, tenantId: string, limit: number): Promise<number> {
  return countedChange(manager, `DELETE FROM subject_request WHERE id IN (SELECT id FROM subject_request WHERE tenant_id = $1 LIMIT $2) RETURNING 1`, [
    tenantId,
    limit,
  ]);
}

/** Closed requests kept longer than their tenant's audit-log retention (they are its proof as long as its log is). */
export function purgeClosedRequests(manager: EntityManager, now: Date, retentionDaysSql: (tenantIdSql: string) => string): Promise<number> {
  return countedChange(
    manager,
    `DELETE FROM subject_request r
      WHERE r.status IN ('COMPLETED', 'REJECTED')
        AND coalesce(r.completed_at, r.rejected_at) < $1::timestamptz - make_interval(days => ${retentionDaysSql("r.tenant_id")})
      RETURNING 1`,
    [now],
  );
}

// Sealing reasons written before they were sealed (src/sealing.ts), on the maintenance pool.

/** Up to `limit` requests with a reason still in plaintext, held (FOR UPDATE SKIP LOCKED). */
export function plaintextReasonsHeld(
  manager: EntityManager,
  limit: number,
): Promise<Array<{ id: string; tenant_id: string; data_subject_id: string; extension_reason: string | null; rejection_reason: string | null }>> {
  return manager.query(
    `SELECT id, tenant_id, data_subject_id, extension_reason, rejection_reason FROM subject_request
      WHERE extension_reason IS NOT NULL OR rejection_reason IS NOT NULL ORDER BY tenant_id, created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
}

/** Replaces held plaintext reasons by their sealed form; a null seal drops the plaintext (its subject was purged). */
export async function storeSealedReasons(
  manager: EntityManager,
  rows: ReadonlyArray<{ id: string; extensionReasonSealed: Buffer | null; rejectionReasonSealed: Buffer | null }>,
): Promise<void> {
  if (!rows.length) return;
  await manager.query(
    `UPDATE subject_request r SET extension_reason = NULL, rejection_reason = NULL,
            extension_reason_sealed = coalesce(s.e, r.extension_reason_sealed), rejection_reason_sealed = coalesce(s.j, r.rejection_reason_sealed)
       FROM unnest($1::uuid[], $2::bytea[], $3::bytea[]) AS s (id, e, j)
      WHERE r.id = s.id`,
    [rows.map((r) => r.id), byteaArray(rows.map((r) => r.extensionReasonSealed)), byteaArray(rows.map((r) => r.rejectionReasonSealed))],
  );
}

/** How many requests have a reason still in plaintext. */
export async function plaintextReasonCount(manager: EntityManager): Promise<number> {
  const [{ n }]: Array<{ n: number }> = await manager.query(
    `SELECT count(*)::int AS n FROM subject_request WHERE extension_reason IS NOT NULL OR rejection_reason IS NOT NULL`,
  );
  return n;
}
