import type { EntityManager } from "typeorm";
import { preparedQuery, returning } from "../../shared/db/database";
import { FAIR_LOCK_CLASS, queueFairly } from "../../shared/db/fair-lock";
import { jsonRow, type JsonRow } from "../../shared/read-path/json-rows";
import { TenantEntity } from "./tenant.entity";
import { tenantPurgeDueSql } from "./tenant.policy";

/**
 * The tenant table: every statement over it, and typed fragments (scalar expressions) for other
 * features' statements to compose.
 */

export function tenantsByIds(manager: EntityManager, ids: readonly string[]): Promise<TenantEntity[]> {
  return manager.getRepository(TenantEntity).createQueryBuilder("t").where("t.id IN (:...ids)", { ids }).getMany();
}

/** Which of `ids` (lower-case uuids) name a tenant. */
export async function existingTenantIds(manager: EntityManager, ids: readonly string[]): Promise<Set<string>> {
  return new Set((await tenantLocations(manager, ids)).keys());
}

/**
 * One tenant; with `lock`, held until the transaction ends. Changes to the tenant lock its row
 * ("update") and apply one after another; writes of the tenant's data hold it shared, so a
 * subscription change never interleaves with them. Both queue first (queueFairly), so a change
 * waits only for the writes already in.
 */
export async function tenantById(manager: EntityManager, id: string, lock?: "update" | "share"): Promise<TenantEntity | null> {
  const query = manager.getRepository(TenantEntity).createQueryBuilder("t").where("t.id = :id", { id });
  if (lock) await queueFairly(manager, FAIR_LOCK_CLASS.tenant, id, lock);
  if (lock === "update") query.setLock("pessimistic_write");
  if (lock === "share") query.setLock("pessimistic_read");
  return query.getOne();
}

export async function insertTenant(manager: EntityManager, tenant: TenantEntity): Promise<void> {
  await manager.getRepository(TenantEntity).insert(tenant);
}

/** Changes the tenant's row (its version goes up). */
export async function updateTenant(manager: EntityManager, id: string, change: Partial<TenantEntity>, now: Date): Promise<void> {
  await manager
    .createQueryBuilder()
    .update(TenantEntity)
    .set({ ...change, updatedAt: now, version: () => "version + 1" })
    .where("id = :id", { id })
    .execute();
}

/** How a tenant travels as JSON in a row of the tenants page. */
export function tenantJsonRow(manager: EntityManager): JsonRow<TenantEntity> {
  return jsonRow<TenantEntity>(manager.connection.getMetadata(TenantEntity));
}

/** The source of one tenant's row for `selectTenants`. */
export function oneTenantSource(bind: (value: unknown) => string, id: string): string {
  return `SELECT *, 1 AS position FROM tenant WHERE id = ${bind(id)}`;
}

/** Which tenants a caller sees: all (operators), or one (a tenant role; none when it names none). */
export type VisibleTenants = { all: true } | { all: false; tenantId: string | null };

const visibleSql = (visible: VisibleTenants, bind: (value: unknown) => string) => (visible.all ? "true" : `id = ${bind(visible.tenantId)}`);

/** The tenants the caller sees, oldest first, after a position, for `selectTenants`; with the count's column. */
export function tenantPageSource(
  bind: (value: unknown) => string,
  visibleTo: VisibleTenants,
  after: [Date, string] | null,
  limit: number,
): { source: string; countColumn: string } {
  const visible = visibleSql(visibleTo, bind);
  const cursor = after ? `(created_at, id) > (${bind(after[0])}, ${bind(after[1])})` : "true";
  return {
    source: `SELECT *, row_number() OVER (ORDER BY created_at, id) AS position FROM tenant WHERE ${visible} AND ${cursor} ORDER BY created_at, id LIMIT ${bind(limit)}`,
    countColumn: `(SELECT count(*)::int FROM tenant WHERE ${visible}) AS total_count`,
  };
}

export async function countTenants(manager: EntityManager, visibleTo: VisibleTenants): Promise<number> {
  const params: unknown[] = [];
  const [{ n }]: Array<{ n: number }> = await manager.query(
    `SELECT count(*)::int AS n FROM tenant WHERE ${visibleSql(visibleTo, (v) => `$${params.push(v)}`)}`,
    params,
  );
  return n;
}

/**
 * The tenants of `source` (with a `position`) as JSON (`tenant`), each with `columns` (scalar
 * expressions over the tenant row `t`), oldest first: one prepared statement.
 */
export function selectTenants<R>(manager: EntityManager, source: string, columns: readonly string[], params: unknown[]): Promise<R[]> {
  return preparedQuery<R>(
    manager,
    `SELECT ${[`${tenantJsonRow(manager).sql("t")} AS tenant`, ...columns].join(", ")} FROM (${source}) t ORDER BY t.created_at, t.id`,
    params,
  );
}

/** The audit retention in days (DOMAIN rule 8) of the tenant whose id is `tenantIdSql`; NULL when no tenant has it. */
export function auditRetentionDaysSql(tenantIdSql: string): string {
  return `(SELECT audit_log_retention_days FROM tenant WHERE id = ${tenantIdSql})`;
}

/** True when the tenant whose id is `tenantIdSql` ended and its data purge is due at `nowSql` (DOMAIN rule 5). */
export function tenantPurgeIsDueSql(tenantIdSql: string, nowSql: string): string {
  return `EXISTS (SELECT 1 FROM tenant t WHERE t.id = ${tenantIdSql} AND ${tenantPurgeDueSql("t", nowSql)})`;
}

/** The storage location code of the tenant whose id is `tenantIdSql` (DOMAIN rule 2). */
export function tenantLocationSql(tenantIdSql: string): string {
  return `(SELECT storage_location_code FROM tenant WHERE id = ${tenantIdSql})`;
}

// Retention (DOMAIN rule 5), run on the maintenance pool.

/** A subquery of the ids of ended tenants whose data purge is due at `nowSql`. */
export function purgeDueTenantIdsSql(nowSql: string): string {
  return `SELECT id FROM tenant WHERE ${tenantPurgeDueSql("tenant", nowSql)}`;
}

/** The tenants for which `exists` (an expression over the tenant's id, `t.id`) holds, by id. */
export async function tenantsWhere(manager: EntityManager, exists: (tenantIdSql: string) => string, params: unknown[]): Promise<string[]> {
  const rows: Array<{ id: string }> = await manager.query(`SELECT t.id FROM tenant t WHERE ${exists("t.id")} ORDER BY t.id`, params);
  return rows.map((r) => r.id);
}

/** The ended tenant whose data purge is most overdue at `now`, locked until the transaction ends; SKIP LOCKED, so another run takes another. */
export async function nextPurgeDueTenantHeld(manager: EntityManager, now: Date): Promise<string | null> {
  const [tenant]: Array<{ id: string }> = await manager.query(
    `SELECT id FROM tenant WHERE ${tenantPurgeDueSql("tenant", "$1")} ORDER BY data_purge_due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
    [now],
  );
  return tenant?.id ?? null;
}

/** The tenant's data is gone: it stays as a PURGED tombstone (its audit chain keeps its policy). */
export async function markTenantPurged(manager: EntityManager, tenantId: string, now: Date): Promise<void> {
  await manager.query(`UPDATE tenant SET subscription_status = 'PURGED', updated_at = $2, version = version + 1 WHERE id = $1`, [tenantId, now]);
}

/** `preferred` when it names a tenant, else the oldest tenant; null when there is none. */
export async function preferredTenantId(manager: EntityManager, preferred: string): Promise<string | null> {
  const rows: Array<{ id: string }> = await manager.query("SELECT id FROM tenant ORDER BY (id = $1) DESC, created_at, id LIMIT 1", [preferred]);
  return rows[0]?.id ?? null;
}

// The tenant directory: control holds every tenant's row; a region holds its own tenants' rows,
// which are the truth (they change in one transaction with the tenant's data, committed before control's).

/** Tenant id -> storage location code, for the ids that name a tenant. */
export async function tenantLocations(manager: EntityManager, ids: readonly string[]): Promise<Map<string, string>> {
  const rows: Array<{ id: string; code: string }> = await manager.query(`SELECT id, storage_location_code AS code FROM tenant WHERE id = ANY($1::uuid[])`, [
    ids,
  ]);
  return new Map(rows.map((r) => [r.id, r.code]));
}

/** Writes `tenant` as it is (a region's row, mirrored into control's directory). */
export async function mirrorTenant(manager: EntityManager, tenant: TenantEntity): Promise<void> {
  await manager.getRepository(TenantEntity).upsert(tenant, ["id"]);
}

/**
 * Repairs control's directory from a region (whose rows are the truth): every tenant row of the
 * region that control lacks or holds at an older version is written to control; a newer one in
 * control (a change committed after this read) is left alone. Says how many it wrote.
 */
export async function reconcileDirectory(region: EntityManager, control: EntityManager): Promise<number> {
  const theirs = await region.getRepository(TenantEntity).find();
  if (!theirs.length) return 0;
  const ours = new Map(
    (
      await tenantsByIds(
        control,
        theirs.map((t) => t.id),
      )
    ).map((t) => [t.id, t.version]),
  );
  const stale = theirs.filter((t) => (ours.get(t.id) ?? 0) < t.version);
  if (!stale.length) return 0;
  const rows = stale.map((t) => ({
    id: t.id,
    name: t.name,
    storage_location_code: t.storageLocationCode,
    subscription_status: t.subscriptionStatus,
    subscription_ended_at: t.subscriptionEndedAt,
    data_purge_due_at: t.dataPurgeDueAt,
    deletion_grace_days: t.deletionGraceDays,
    audit_log_retention_days: t.auditLogRetentionDays,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
    version: t.version,
  }));
  const written = await returning<{ id: string }>(
    control,
    `INSERT INTO tenant SELECT * FROM jsonb_populate_recordset(NULL::tenant, $1::jsonb)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, subscription_status = EXCLUDED.subscription_status,
       subscription_ended_at = EXCLUDED.subscription_ended_at, data_purge_due_at = EXCLUDED.data_purge_due_at,
       deletion_grace_days = EXCLUDED.deletion_grace_days, audit_log_retention_days = EXCLUDED.audit_log_retention_days,
       updated_at = EXCLUDED.updated_at, version = EXCLUDED.version
     WHERE tenant.version < EXCLUDED.version
     RETURNING id`,
    [JSON.stringify(rows)],
  );
  return written.length;
}

/**
 * A page of control's directory for operators: the tenants after `after` in the page's order
 * (created_at, id), at most `limit`, with their locations; and, when `counted`, how many there are.
 * One statement.
 */
export async function tenantDirectoryPage(
  manager: EntityManager,
  after: [Date, string] | null,
  limit: number,
  counted: boolean,
): Promise<{ rows: Array<{ id: string; code: string }>; total: number | null }> {
  const params: unknown[] = [limit];
  const cursor = after ? `WHERE (created_at, id) > ($${params.push(after[0])}, $${params.push(after[1])})` : "";
  const rows: Array<{ id: string; code: string; total: number | null }> = await preparedQuery(
    manager,
    `SELECT id, storage_location_code AS code, ${counted ? "(SELECT count(*)::int FROM tenant)" : "NULL::int"} AS total
       FROM tenant ${cursor} ORDER BY created_at, id LIMIT $1`,
    params,
  );
  if (counted && rows.length === 0) return { rows: [], total: await countTenants(manager, { all: true }) };
  return { rows, total: rows[0]?.total ?? null };
}

/** The source of the tenants `ids` for `selectTenants`: all of them on the page (position 1), no window to number them. */
export function tenantsByIdsSource(bind: (value: unknown) => string, ids: readonly string[]): string {
  return `SELECT *, 1 AS position FROM tenant WHERE id = ANY(${bind(ids)}::uuid[])`;
}

/** Every tenant's id. */
export async function allTenantIds(manager: EntityManager): Promise<string[]> {
  const rows: Array<{ id: string }> = await manager.query(`SELECT id FROM tenant`);
  return rows.map((r) => r.id);
}

/** The tenants here whose data is not purged (every tenant an announcement reaches). */
export async function liveTenantIds(manager: EntityManager): Promise<string[]> {
  const rows: Array<{ id: string }> = await manager.query(`SELECT id FROM tenant WHERE subscription_status <> 'PURGED' ORDER BY id`);
  return rows.map((r) => r.id);
}
