import type { EntityManager, EntityMetadata, SelectQueryBuilder } from "typeorm";
import type { DataScope } from "../../shared/auth/scope";
import { countedChange, returning } from "../../shared/db/database";
import { byteaArray } from "../../shared/db/bytes";
import type { DeletionPlan } from "../tenant/deletion-plan";
import { ACTIVELY_DELETABLE_SQL } from "./deletion-policy";
import { PersonalDataRecordEntity } from "./personal-data-record.entity";
import type { ProcessingPurpose } from "../purpose/processing-purpose";
import type { DataCategory, RecordStatus } from "./personal-data.enums";
import { scopedTo } from "../../shared/db/scoped-query";

/**
 * Personal data's tables (personal_data_record, idempotency_key): every statement over them, and
 * typed fragments for other features' statements to compose.
 */

/** The records among `ids` that `scope` reaches (a tenant role its tenant's, a data subject its own); null when it reaches none. */
function scopedRecords(manager: EntityManager, scope: DataScope, ids: readonly string[]): SelectQueryBuilder<PersonalDataRecordEntity> | null {
  return scopedTo(manager.getRepository(PersonalDataRecordEntity).createQueryBuilder("r").where("r.id IN (:...ids)", { ids }), scope, {
    tenant: "r.tenant_id",
    subject: "r.data_subject_id",
  });
}

/** The record if `scope` reaches it, else null; `lock` holds it FOR UPDATE. */
export function visibleRecord(manager: EntityManager, scope: DataScope, id: string, lock: boolean): Promise<PersonalDataRecordEntity | null> {
  const query = scopedRecords(manager, scope, [id]);
  if (!query) return Promise.resolve(null);
  if (lock) query.setLock("pessimistic_write");
  return query.getOne();
}

/** The records among `ids` (lower-case uuids) that `scope` reaches. */
export function visibleRecords(manager: EntityManager, scope: DataScope, ids: readonly string[]): Promise<PersonalDataRecordEntity[]> {
  return scopedRecords(manager, scope, ids)?.getMany() ?? Promise.resolve([]);
}

/** The record entity's mapping: which columns a selection needs, how a joined row reads back. */
export function recordMetadata(manager: EntityManager): EntityMetadata {
  return manager.connection.getMetadata(PersonalDataRecordEntity);
}

/**
 * For the tenants page's join (records aliased `r`, under the tenant row `t`): a scalar count of
 * the records matching `conditions`; the count of all records of the tenant `tenantSql` from its
 * tally (kept by the database as records are written, see the RecordTally migration); and the
 * statement of one page of them, `columns` selected, `join` joined, in keyset order.
 */
export const recordJoinSql = {
  count: (conditions: string) => `(SELECT count(*)::int FROM personal_data_record r WHERE ${conditions})`,
  tally: (tenantSql: string) => `coalesce((SELECT c.records::int FROM personal_data_record_tally c WHERE c.tenant_id = ${tenantSql}), 0)`,
  page: (columns: readonly string[], join: string, conditions: string, limit: string) =>
    `SELECT ${columns.join(", ")} FROM personal_data_record r ${join} WHERE ${conditions} ORDER BY r.created_at, r.id LIMIT ${limit}`,
};

/** A page's query of records (alias `r`) for parentPage, selecting only `properties` when given (else every column but the value). */
export function recordPageQuery(manager: EntityManager, properties: readonly string[]): SelectQueryBuilder<PersonalDataRecordEntity> {
  const query = manager.getRepository(PersonalDataRecordEntity).createQueryBuilder("r");
  if (properties.length) query.select(properties.map((p) => `r.${p}`));
  return query;
}

/** A new record's values; inserted ACTIVE at version 1. */
export interface NewRecord {
  id: string;
  dataSubjectId: string;
  category: string;
  purposes: readonly string[];
  sourceThirdPartyId: string | null;
  /** The value sealed under the record's first key (version 1). */
  sealed: Buffer;
}

/** Inserts the tenant's new records in one statement, in the tenant's storage location. */
export async function insertRecords(
  manager: EntityManager,
  tenantId: string,
  storageLocationCode: string,
  now: Date,
  records: readonly NewRecord[],
): Promise<void> {
  await manager.query(
    `INSERT INTO personal_data_record (id, tenant_id, data_subject_id, category, purposes, storage_location_code, source_third_party_id, value_sealed, value_key_version, status, version, created_at, updated_at)
     SELECT r.id, $1, r.subject_id, r.category, r.purposes::text[], $2, r.source_id, r.sealed, 1, 'ACTIVE', 1, $3, $3
       FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::uuid[], $9::bytea[]) AS r (id, subject_id, category, purposes, source_id, sealed)`,
    [
      tenantId,
      storageLocationCode,
      now,
      records.map((r) => r.id),
      records.map((r) => r.dataSubjectId),
      records.map((r) => r.category),
      // Enum names need no quoting in an array literal.
      records.map((r) => `{${r.purposes.join(",")}}`),
      records.map((r) => r.sourceThirdPartyId),
      byteaArray(records.map((r) => r.sealed)),
    ],
  );
}

/** A record's stored value (plaintext from before sealing, or sealed) and the columns that place it. */
export interface StoredValueRow {
  id: string;
  tenant_id: string;
  data_subject_id: string;
  value: Record<string, unknown> | null;
  /** As pg gives bytea (a Buffer), or as a statement's JSON carries it (`\x` and hex: see storedValueOf). */
  value_sealed: Buffer | string | null;
  value_key_version: number | null;
}

/** The record's stored value, if the record exists in the caller's scope. */
export async function storedValue(manager: EntityManager, id: string): Promise<StoredValueRow | null> {
  const [row]: StoredValueRow[] = await manager.query(
    `SELECT id, tenant_id, data_subject_id, value, value_sealed, value_key_version FROM personal_data_record WHERE id = $1`,
    [id],
  );
  return row ?? null;
}

/** Replaces an ACTIVE record's value with one sealed under its key of `keyVersion`, if it is still at `expectedVersion`; false when it was not. */
export async function replaceValue(
  manager: EntityManager,
  id: string,
  expectedVersion: number,
  sealed: Buffer,
  keyVersion: number,
  now: Date,
): Promise<boolean> {
  const rows = await returning(
    manager,
    `UPDATE personal_data_record SET value = NULL, value_sealed = $3, value_key_version = $4, version = version + 1, updated_at = $5
      WHERE id = $1 AND version = $2 AND status = 'ACTIVE'
      RETURNING 1`,
    [id, expectedVersion, sealed, keyVersion, now],
  );
  return rows.length > 0;
}

/** What a value's read decides on, for records by id (the caller's scope applies through RLS). */
export function valueRows<R>(manager: EntityManager, ids: readonly string[]): Promise<R[]> {
  // Purposes as JSON: pg parses a json column natively, an enum array in JavaScript (a third of
  // this statement's client time for 100 rows).
  return manager.query(
    `SELECT id, tenant_id, data_subject_id, to_json(purposes) AS purposes, status, value, value_sealed, value_key_version FROM personal_data_record WHERE id = ANY($1::uuid[])`,
    [ids],
  );
}

/** The subject's ACTIVE records with their values, oldest first (an export). */
export function activeRecordsOfSubject(manager: EntityManager, tenantId: string, subjectId: string): Promise<Array<StoredValueRow & Record<string, unknown>>> {
  return manager.query(
    `SELECT id, tenant_id, data_subject_id, category, purposes, storage_location_code, source_third_party_id, value, value_sealed, value_key_version, version, created_at, updated_at
       FROM personal_data_record
      WHERE tenant_id = $1 AND data_subject_id = $2 AND status = 'ACTIVE'
      ORDER BY created_at, id`,
    [tenantId, subjectId],
  );
}

/** One record pending active deletion under `plan`; false when it was already actively deleted. */
export async function deleteRecord(manager: EntityManager, id: string, plan: DeletionPlan): Promise<boolean> {
  const rows = await returning(
    manager,
    `UPDATE personal_data_record
        SET status = 'PENDING_DELETION', deletion_reason = 'ACTIVE_DELETION', deletion_requested_at = $2, purge_due_at = $3,
            version = version + 1, updated_at = $2
      WHERE id = $1 AND ${ACTIVELY_DELETABLE_SQL}
      RETURNING id`,
    [id, plan.requestedAt, plan.purgeDueAt],
  );
  return rows.length === 1;
}

/** Every record of the subject still deletable, pending active deletion under `plan`; how many. */
export async function deleteRecordsOfSubject(manager: EntityManager, tenantId: string, subjectId: string, plan: DeletionPlan): Promise<number> {
  const rows = await returning(
    manager,
    `UPDATE personal_data_record
        SET status = 'PENDING_DELETION', deletion_reason = 'ACTIVE_DELETION', deletion_requested_at = $3, purge_due_at = $4,
            version = version + 1, updated_at = $3
      WHERE tenant_id = $1 AND data_subject_id = $2 AND ${ACTIVELY_DELETABLE_SQL}
      RETURNING id`,
    [tenantId, subjectId, plan.requestedAt, plan.purgeDueAt],
  );
  return rows.length;
}

/** DOMAIN rule 5: every active record of the tenant pending passive deletion; how many. */
export function passivelyDeleteRecordsOfTenant(manager: EntityManager, tenantId: string, plan: DeletionPlan): Promise<number> {
  return countedChange(
    manager,
    `UPDATE personal_data_record
        SET status = 'PENDING_DELETION', deletion_reason = 'PASSIVE_DELETION', deletion_requested_at = $2, purge_due_at = $3,
            version = version + 1, updated_at = $2
      WHERE tenant_id = $1 AND status = 'ACTIVE'
      RETURNING 1`,
    [tenantId, plan.requestedAt, plan.purgeDueAt],
  );
}

/** DOMAIN rule 7: exactly the records passive deletion took become active again; how many. */
export function restorePassivelyDeletedRecords(manager: EntityManager, tenantId: string, now: Date): Promise<number> {
  return countedChange(
    manager,
    `UPDATE personal_data_record
        SET status = 'ACTIVE', deletion_reason = NULL, deletion_requested_at = NULL, purge_due_at = NULL,
            version = version + 1, updated_at = $2
      WHERE tenant_id = $1 AND deletion_reason = 'PASSIVE_DELETION' AND purge_due_at > $2
      RETURNING 1`,
    [tenantId, now],
  );
}

/**
 * Claims an idempotency key for `ttlMs`: true when this request now holds it (new, or the old
 * claim expired); false when another holds it. A concurrent claim waits on the row until the
 * holder commits or rolls back.
 */
export async function claimIdempotencyKey(
  manager: EntityManager,
  k: { tenantId: string; key: string; operation: string; hash: string; resultIds: readonly string[] },
  now: Date,
  ttlMs: number,
): Promise<boolean> {
  const claimed: unknown[] = await manager.query(
    `INSERT INTO idempotency_key (tenant_id, key, operation, request_hash, result_ids, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (tenant_id, key) DO UPDATE
       SET operation = EXCLUDED.operation, request_hash = EXCLUDED.request_hash, result_ids = EXCLUDED.result_ids,
           created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
       WHERE idempotency_key.expires_at <= EXCLUDED.created_at
     RETURNING 1`,
    [k.tenantId, k.key, k.operation, k.hash, k.resultIds, now, new Date(now.getTime() + ttlMs)],
  );
  return claimed.length === 1;
}

/** What the key's holder asked and answered. */
export async function idempotencyKeyHeld(
  manager: EntityManager,
  tenantId: string,
  key: string,
): Promise<{ operation: string; hash: string; resultIds: string[] }> {
  const [first]: Array<{ operation: string; request_hash: string; result_ids: string[] }> = await manager.query(
    `SELECT operation, request_hash, result_ids FROM idempotency_key WHERE tenant_id = $1 AND key = $2`,
    [tenantId, key],
  );
  return { operation: first.operation, hash: first.request_hash, resultIds: first.result_ids };
}

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

/**
 * Deletes up to `limit` of the tenant's due records; their ids. Uncommitted, the rows stay held
 * until the caller's transaction ends: their keys are destroyed before it commits.
 */
export async function purgeDueRecords(manager: EntityManager, tenantId: string, now: Date, limit: number): Promise<string[]> {
  const rows = await returning<{ id: string }>(
    manager,
    `DELETE FROM personal_data_record WHERE ctid = ANY(ARRAY(
       SELECT ctid FROM personal_data_record r WHERE r.tenant_id = $1 AND ${dueRecord("r", "$2")} LIMIT $3)) RETURNING id`,
    [tenantId, now, limit],
  );
  return rows.map((r) => r.id);
}

/** The key version each record's value is sealed under (null: a plaintext value); records that do not exist are left out. */
export async function valueKeyVersions(manager: EntityManager, recordIds: readonly string[]): Promise<Map<string, number | null>> {
  const rows: Array<{ id: string; value_key_version: number | null }> = await manager.query(
    `SELECT id, value_key_version FROM personal_data_record WHERE id = ANY($1::uuid[])`,
    [recordIds],
  );
  return new Map(rows.map((r) => [r.id, r.value_key_version]));
}

/** Up to `limit` sealed records after `after` in id order (the records whose keys the purge may have destroyed). */
export function sealedRecordsAfter(manager: EntityManager, after: string | null, limit: number): Promise<Array<{ id: string; tenant_id: string }>> {
  return manager.query(`SELECT id, tenant_id FROM personal_data_record WHERE value_sealed IS NOT NULL AND ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2`, [
    after,
    limit,
  ]);
}

/** Deletes the tenant's records among `ids`, and with `ofSubjects` every record of those subjects; returns how many. */
export function deleteRecordsById(manager: EntityManager, tenantId: string, ids: readonly string[], ofSubjects: readonly string[] = []): Promise<number> {
  return countedChange(
    manager,
    `DELETE FROM personal_data_record WHERE tenant_id = $1 AND (id = ANY($2::uuid[]) OR data_subject_id = ANY($3::uuid[])) RETURNING 1`,
    [tenantId, ids, ofSubjects],
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

// Sealing values written before sealing existed (sealing-job.ts), on the maintenance pool.

/** Up to `limit` records whose value is still plaintext, held (FOR UPDATE SKIP LOCKED: two runs take different rows). */
export function plaintextValuesHeld(
  manager: EntityManager,
  limit: number,
): Promise<Array<{ id: string; tenant_id: string; data_subject_id: string; version: number; value: Record<string, unknown> }>> {
  return manager.query(
    `SELECT id, tenant_id, data_subject_id, version, value FROM personal_data_record WHERE value IS NOT NULL ORDER BY tenant_id, created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
}

/** Replaces held plaintext values by their sealed form, each under its record's key of `keyVersion`. */
export async function storeSealedValues(manager: EntityManager, rows: ReadonlyArray<{ id: string; sealed: Buffer; keyVersion: number }>): Promise<void> {
  if (!rows.length) return;
  await manager.query(
    `UPDATE personal_data_record r SET value = NULL, value_sealed = s.sealed, value_key_version = s.key_version
       FROM unnest($1::uuid[], $2::bytea[], $3::int[]) AS s (id, sealed, key_version)
      WHERE r.id = s.id AND r.value IS NOT NULL`,
    [rows.map((r) => r.id), byteaArray(rows.map((r) => r.sealed)), rows.map((r) => r.keyVersion)],
  );
}

/** How many record values are still plaintext. */
/** Up to `limit` idempotency keys stored as their client's text (from before keys were blind), held for their conversion. */
export function plaintextIdempotencyKeysHeld(manager: EntityManager, limit: number): Promise<Array<{ tenant_id: string; key: string }>> {
  return manager.query(`SELECT tenant_id, key FROM idempotency_key WHERE key NOT LIKE 'b1:%' ORDER BY tenant_id, key LIMIT $1 FOR UPDATE SKIP LOCKED`, [limit]);
}

/**
 * Replaces held idempotency keys by their blind index. A key whose blind form was claimed
 * meanwhile (a retry after the upgrade, before this ran) is dropped: the newer claim stands.
 */
export async function storeBlindIdempotencyKeys(manager: EntityManager, rows: ReadonlyArray<{ tenantId: string; key: string; blind: string }>): Promise<void> {
  if (!rows.length) return;
  const params = [rows.map((r) => r.tenantId), rows.map((r) => r.key), rows.map((r) => r.blind)];
  await manager.query(
    `DELETE FROM idempotency_key l USING unnest($1::uuid[], $2::text[], $3::text[]) AS c(tenant_id, key, blind)
      WHERE l.tenant_id = c.tenant_id AND l.key = c.key
        AND EXISTS (SELECT 1 FROM idempotency_key b WHERE b.tenant_id = c.tenant_id AND b.key = c.blind)`,
    params,
  );
  await manager.query(
    `UPDATE idempotency_key l SET key = c.blind FROM unnest($1::uuid[], $2::text[], $3::text[]) AS c(tenant_id, key, blind)
      WHERE l.tenant_id = c.tenant_id AND l.key = c.key`,
    params,
  );
}

export async function plaintextIdempotencyKeyCount(manager: EntityManager): Promise<number> {
  const [{ n }]: Array<{ n: number }> = await manager.query(`SELECT count(*)::int AS n FROM idempotency_key WHERE key NOT LIKE 'b1:%'`);
  return n;
}

export async function plaintextValueCount(manager: EntityManager): Promise<number> {
  const [{ n }]: Array<{ n: number }> = await manager.query(`SELECT count(*)::int AS n FROM personal_data_record WHERE value IS NOT NULL`);
  return n;
}
