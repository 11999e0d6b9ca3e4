import type { EntityManager, SelectQueryBuilder } from "typeorm";
import type { DataScope } from "../../shared/auth/scope";
import { countedChange, returning } from "../../shared/db/database";
import { byteaArray } from "../../shared/db/bytes";
import { columnsFor, jsonRow, type JsonRow } from "../../shared/read-path/json-rows";
import { DataSubjectEntity } from "./data-subject.entity";
import { DataSubjectStatus } from "./data-subject.status";
import { scopedTo } from "../../shared/db/scoped-query";

/**
 * The data_subject table: every statement over it, and typed fragments for other features'
 * statements to compose.
 */

export function subjectsByIds(manager: EntityManager, ids: readonly string[]): Promise<DataSubjectEntity[]> {
  return manager.getRepository(DataSubjectEntity).createQueryBuilder("s").where("s.id IN (:...ids)", { ids }).getMany();
}

/** The subjects among `ids` that `scope` reaches (a tenant role its tenant's, a data subject only itself); null when it reaches none. */
function scopedSubjects(manager: EntityManager, scope: DataScope, ids: readonly string[]): SelectQueryBuilder<DataSubjectEntity> | null {
  return scopedTo(manager.getRepository(DataSubjectEntity).createQueryBuilder("s").where("s.id IN (:...ids)", { ids }), scope, {
    tenant: "s.tenant_id",
    subject: "s.id",
  });
}

/** The subject if `scope` reaches it, else null; `lock` holds it FOR UPDATE until the transaction ends. */
export function visibleSubject(manager: EntityManager, scope: DataScope, id: string, lock: boolean): Promise<DataSubjectEntity | null> {
  const query = scopedSubjects(manager, scope, [id]);
  if (!query) return Promise.resolve(null);
  if (lock) query.setLock("pessimistic_write");
  return query.getOne();
}

/** The subjects among `ids` (lower-case uuids) that `scope` reaches. */
export function visibleSubjects(manager: EntityManager, scope: DataScope, ids: readonly string[]): Promise<DataSubjectEntity[]> {
  return scopedSubjects(manager, scope, ids)?.getMany() ?? Promise.resolve([]);
}

/** A page's query of subjects (alias `s`) for parentPage: its parent is `s.tenant_id`. */
export function subjectPageQuery(manager: EntityManager, status: DataSubjectStatus | null | undefined): SelectQueryBuilder<DataSubjectEntity> {
  const query = manager.getRepository(DataSubjectEntity).createQueryBuilder("s");
  if (status) query.andWhere("s.status = :status", { status });
  return query;
}

/** Throws the driver's unique violation when the tenant already has the external id. */
export async function insertSubject(manager: EntityManager, subject: DataSubjectEntity): Promise<void> {
  await manager.getRepository(DataSubjectEntity).insert(subject);
}

export async function markSubjectDeleted(manager: EntityManager, id: string, plan: { requestedAt: Date; purgeDueAt: Date }): Promise<void> {
  await manager
    .createQueryBuilder()
    .update(DataSubjectEntity)
    .set({ status: DataSubjectStatus.DELETED, deletedAt: plan.requestedAt, purgeDueAt: plan.purgeDueAt, updatedAt: plan.requestedAt })
    .where("id = :id", { id })
    .execute();
}

/**
 * The named subjects of the tenant with their status, locked FOR KEY SHARE until the caller's
 * transaction ends (in id order, so two writers cannot deadlock): a deletion, which takes the
 * subject FOR UPDATE, waits for the write or is seen by it.
 */
export function subjectsHeldForWrite(
  manager: EntityManager,
  tenantId: string,
  ids: readonly string[],
): Promise<Array<{ id: string; status: DataSubjectStatus; sealed: boolean }>> {
  return manager.query(
    `SELECT id, status, external_id_sealed IS NOT NULL AS sealed FROM data_subject WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR KEY SHARE`,
    [tenantId, [...new Set(ids)]],
  );
}

/** A subquery of the ids of the tenant's deleted subjects whose purge is due at `nowSql`. */
export function purgeDueSubjectIdsSql(tenantIdSql: string, nowSql: string): string {
  return `SELECT id FROM data_subject WHERE tenant_id = ${tenantIdSql} AND status = 'DELETED' AND purge_due_at <= ${nowSql}`;
}

// Retention (DOMAIN rule 4), run on the maintenance pool in the caller's batch transaction.

/** Deleted subjects (alias `s`) whose purge is due at `nowSql`, unless `kept` (an expression over `s`) holds. */
const dueSubject = (nowSql: string, kept: string) => `s.status = 'DELETED' AND s.purge_due_at <= ${nowSql} AND NOT ${kept}`;

/** True when the tenant whose id is `tenantIdSql` has subjects due at `nowSql` and not `kept`. */
export function dueSubjectsExistSql(tenantIdSql: string, nowSql: string, kept: string): string {
  return `EXISTS (SELECT 1 FROM data_subject s WHERE s.tenant_id = ${tenantIdSql} AND ${dueSubject(nowSql, kept)})`;
}

/**
 * Deletes up to `limit` of the tenant's due subjects that are not `kept`; their ids. Uncommitted,
 * the rows stay held until the caller's transaction ends: their keys are destroyed before it commits.
 */
export async function purgeDueSubjects(manager: EntityManager, tenantId: string, now: Date, limit: number, kept: string): Promise<string[]> {
  const rows = await returning<{ id: string }>(
    manager,
    `DELETE FROM data_subject WHERE ctid = ANY(ARRAY(SELECT s.ctid FROM data_subject s WHERE s.tenant_id = $1 AND ${dueSubject("$2", kept)} LIMIT $3)) RETURNING id`,
    [tenantId, now, limit],
  );
  return rows.map((r) => r.id);
}

/** Deletes up to `limit` of the tenant's subjects, due or not (its data purge); returns how many. */
export function purgeSubjectsOfTenant(manager: EntityManager, tenantId: string, limit: number): Promise<number> {
  return countedChange(manager, `DELETE FROM data_subject WHERE ctid = ANY(ARRAY(SELECT ctid FROM data_subject WHERE tenant_id = $1 LIMIT $2)) RETURNING 1`, [
    tenantId,
    limit,
  ]);
}

/** Up to `limit` sealed subjects after `after` in id order (the subjects whose keys the purge may have destroyed). */
export function sealedSubjectsAfter(manager: EntityManager, after: string | null, limit: number): Promise<Array<{ id: string; tenant_id: string }>> {
  return manager.query(`SELECT id, tenant_id FROM data_subject WHERE external_id_sealed IS NOT NULL AND ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2`, [
    after,
    limit,
  ]);
}

/** Deletes the tenant's subjects among `ids` (their records first); returns how many. */
export function deleteSubjectsById(manager: EntityManager, tenantId: string, ids: readonly string[]): Promise<number> {
  return countedChange(manager, `DELETE FROM data_subject WHERE tenant_id = $1 AND id = ANY($2::uuid[]) RETURNING 1`, [tenantId, ids]);
}

/** A scalar count of the subjects a purge at `nowSql` would delete: those of `dueTenantIds` (a subquery), and due ones not `kept`. */
export function purgeableSubjectsCountSql(nowSql: string, dueTenantIds: string, kept: string): string {
  return `(SELECT count(*) FROM data_subject s WHERE s.tenant_id IN (${dueTenantIds}) OR (${dueSubject(nowSql, kept)}))`;
}

/**
 * For a read that joins rows to their subjects (the tenants page's records): the JOIN clause of
 * subjects aliased `s` to rows aliased `r` with `tenant_id` and `data_subject_id`, and the JSON
 * row of the subject's columns that `fieldNames` (fields of DataSubject) need.
 */
export function subjectJoin(manager: EntityManager, fieldNames: readonly string[]): { clause: string; row: JsonRow<DataSubjectEntity> } {
  const meta = manager.connection.getMetadata(DataSubjectEntity);
  return {
    clause: "JOIN data_subject s ON s.tenant_id = r.tenant_id AND s.id = r.data_subject_id",
    // Fields resolved from elsewhere need no column of their own.
    // The identifiers are opened from their seal: a field of them takes the sealed columns too.
    row: jsonRow<DataSubjectEntity>(
      meta,
      columnsFor(
        meta,
        [...fieldNames].flatMap((name) => (name === "externalId" || name === "displayName" ? [name, `${name}Sealed`] : [name])),
        ["id"],
        {
          tenant: [],
          records: [],
        },
      ),
    ),
  };
}

// Sealing identifiers written before sealing existed (sealing-job.ts), on the maintenance pool.

/** Up to `limit` subjects whose identifiers are still plaintext, held (FOR UPDATE SKIP LOCKED). */
export function plaintextIdentitiesHeld(
  manager: EntityManager,
  limit: number,
): Promise<Array<{ id: string; tenant_id: string; external_id: string; display_name: string | null }>> {
  return manager.query(
    `SELECT id, tenant_id, external_id, display_name FROM data_subject WHERE external_id IS NOT NULL ORDER BY tenant_id, created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
}

/** Replaces held plaintext identifiers by their sealed form and blind index. */
export async function storeSealedIdentities(
  manager: EntityManager,
  rows: ReadonlyArray<{ id: string; externalIdSealed: Buffer; displayNameSealed: Buffer | null; externalIdIndex: string }>,
): Promise<void> {
  if (!rows.length) return;
  await manager.query(
    `UPDATE data_subject d SET external_id = NULL, display_name = NULL, external_id_sealed = s.e, display_name_sealed = s.n, external_id_index = s.i
       FROM unnest($1::uuid[], $2::bytea[], $3::bytea[], $4::text[]) AS s (id, e, n, i)
      WHERE d.id = s.id AND d.external_id IS NOT NULL`,
    [
      rows.map((r) => r.id),
      byteaArray(rows.map((r) => r.externalIdSealed)),
      byteaArray(rows.map((r) => r.displayNameSealed)),
      rows.map((r) => r.externalIdIndex),
    ],
  );
}

/** How many subjects' identifiers are still plaintext. */
export async function plaintextIdentityCount(manager: EntityManager): Promise<number> {
  const [{ n }]: Array<{ n: number }> = await manager.query(
    `SELECT count(*)::int AS n FROM data_subject WHERE external_id IS NOT NULL OR display_name IS NOT NULL`,
  );
  return n;
}

/** Whether the tenant has a subject registered before sealing with this plaintext external id. */
export async function plaintextExternalIdTaken(manager: EntityManager, tenantId: string, externalId: string): Promise<boolean> {
  const rows: unknown[] = await manager.query(`SELECT 1 FROM data_subject WHERE tenant_id = $1 AND external_id = $2`, [tenantId, externalId]);
  return rows.length > 0;
}
