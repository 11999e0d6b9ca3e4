import type { DataSource, EntityManager } from "typeorm";
import { countedChange, returning } from "../../shared/db/database";
import { byteaArray } from "../../shared/db/bytes";

/**
 * Statements over a region's key store (its own database: tenant_key, subject_key, record_key).
 * Only wrapped keys travel here, as bound parameters.
 */

export interface WrappedChain {
  recordId: string;
  version: number;
  subjectId: string;
  tenantId: string;
  record: Buffer;
  subject: Buffer;
  kekVersion: number;
  kek: Buffer;
  masterVersion: number;
}

/** The wrapped keys from each record key up to its tenant's KEK; a record key (or a key above it) that is gone is missing. */
export async function wrappedChains(keystore: DataSource, refs: ReadonlyArray<{ recordId: string; version: number }>): Promise<WrappedChain[]> {
  if (!refs.length) return [];
  const rows: Array<{
    record_id: string;
    version: number;
    subject_id: string;
    tenant_id: string;
    record: Buffer;
    subject: Buffer;
    kek_version: number;
    kek: Buffer;
    master_version: number;
  }> = await keystore.query(
    `SELECT r.record_id, r.version, r.subject_id, r.tenant_id, r.wrapped AS record, s.wrapped AS subject, s.kek_version, t.wrapped AS kek, t.master_version
       FROM unnest($1::uuid[], $2::int[]) AS want(record_id, version)
       JOIN record_key r ON r.record_id = want.record_id AND r.version = want.version
       JOIN subject_key s ON s.subject_id = r.subject_id AND s.tenant_id = r.tenant_id
       JOIN tenant_key t ON t.tenant_id = s.tenant_id AND t.kind = 'KEK' AND t.version = s.kek_version`,
    [refs.map((r) => r.recordId), refs.map((r) => r.version)],
  );
  return rows.map((r) => ({
    recordId: r.record_id,
    version: r.version,
    subjectId: r.subject_id,
    tenantId: r.tenant_id,
    record: r.record,
    subject: r.subject,
    kekVersion: r.kek_version,
    kek: r.kek,
    masterVersion: r.master_version,
  }));
}

/** The subjects' wrapped keys with their tenants' KEKs; a subject whose key (or KEK) is gone is missing. */
export async function wrappedSubjectChains(
  keystore: DataSource,
  subjectIds: readonly string[],
): Promise<Array<{ subjectId: string; tenantId: string; subject: Buffer; kekVersion: number; kek: Buffer; masterVersion: number }>> {
  if (!subjectIds.length) return [];
  const rows: Array<{ subject_id: string; tenant_id: string; subject: Buffer; kek_version: number; kek: Buffer; master_version: number }> =
    await keystore.query(
      `SELECT s.subject_id, s.tenant_id, s.wrapped AS subject, s.kek_version, t.wrapped AS kek, t.master_version
       FROM subject_key s JOIN tenant_key t ON t.tenant_id = s.tenant_id AND t.kind = 'KEK' AND t.version = s.kek_version
      WHERE s.subject_id = ANY($1::uuid[])`,
      [subjectIds],
    );
  return rows.map((r) => ({
    subjectId: r.subject_id,
    tenantId: r.tenant_id,
    subject: r.subject,
    kekVersion: r.kek_version,
    kek: r.kek,
    masterVersion: r.master_version,
  }));
}

/** The tenant's newest key of `kind`, if any. */
export async function newestTenantKey(
  m: EntityManager,
  tenantId: string,
  kind: "KEK" | "INDEX",
): Promise<{ version: number; wrapped: Buffer; masterVersion: number } | null> {
  const [row]: Array<{ version: number; wrapped: Buffer; master_version: number }> = await m.query(
    `SELECT version, wrapped, master_version FROM tenant_key WHERE tenant_id = $1 AND kind = $2 ORDER BY version DESC LIMIT 1`,
    [tenantId, kind],
  );
  return row ? { version: row.version, wrapped: row.wrapped, masterVersion: row.master_version } : null;
}

/** The tenant's key of `kind` and `version`, if it exists. */
export async function tenantKey(
  m: EntityManager,
  tenantId: string,
  kind: "KEK" | "INDEX",
  version: number,
): Promise<{ wrapped: Buffer; masterVersion: number } | null> {
  const [row]: Array<{ wrapped: Buffer; master_version: number }> = await m.query(
    `SELECT wrapped, master_version FROM tenant_key WHERE tenant_id = $1 AND kind = $2 AND version = $3`,
    [tenantId, kind, version],
  );
  return row ? { wrapped: row.wrapped, masterVersion: row.master_version } : null;
}

/** Adds a tenant key unless one of that version exists (another instance made it first): then the existing one is returned. */
export async function addTenantKey(
  m: EntityManager,
  key: { tenantId: string; kind: "KEK" | "INDEX"; version: number; wrapped: Buffer; masterVersion: number },
  now: Date,
): Promise<{ version: number; wrapped: Buffer; masterVersion: number }> {
  await m.query(
    `INSERT INTO tenant_key (tenant_id, kind, version, wrapped, master_version, created_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT DO NOTHING`,
    [key.tenantId, key.kind, key.version, key.wrapped, key.masterVersion, now],
  );
  return (await newestTenantKey(m, key.tenantId, key.kind))!;
}

/**
 * The subjects' keys that exist, by subject id, each with the KEK that wraps it (null: gone),
 * read together: a rotation may re-wrap a key and destroy its old KEK between two reads.
 */
export async function subjectKeys(
  m: EntityManager,
  subjectIds: readonly string[],
): Promise<Map<string, { tenantId: string; wrapped: Buffer; kekVersion: number; kek: { wrapped: Buffer; masterVersion: number } | null }>> {
  const rows: Array<{ subject_id: string; tenant_id: string; wrapped: Buffer; kek_version: number; kek: Buffer | null; master_version: number | null }> =
    subjectIds.length
      ? await m.query(
          `SELECT s.subject_id, s.tenant_id, s.wrapped, s.kek_version, t.wrapped AS kek, t.master_version
             FROM subject_key s LEFT JOIN tenant_key t ON t.tenant_id = s.tenant_id AND t.kind = 'KEK' AND t.version = s.kek_version
            WHERE s.subject_id = ANY($1::uuid[])`,
          [subjectIds],
        )
      : [];
  return new Map(
    rows.map((r) => [
      r.subject_id,
      {
        tenantId: r.tenant_id,
        wrapped: r.wrapped,
        kekVersion: r.kek_version,
        kek: r.kek && r.master_version !== null ? { wrapped: r.kek, masterVersion: r.master_version } : null,
      },
    ]),
  );
}

/** Adds subject keys; one another instance added first is kept (the caller reads it back). */
export async function addSubjectKeys(
  m: EntityManager,
  keys: ReadonlyArray<{ subjectId: string; tenantId: string; wrapped: Buffer; kekVersion: number }>,
  now: Date,
): Promise<void> {
  if (!keys.length) return;
  await m.query(
    `INSERT INTO subject_key (subject_id, tenant_id, wrapped, kek_version, created_at)
     SELECT * , $5::timestamptz FROM unnest($1::uuid[], $2::uuid[], $3::bytea[], $4::int[])
     ON CONFLICT DO NOTHING`,
    [keys.map((k) => k.subjectId), keys.map((k) => k.tenantId), byteaArray(keys.map((k) => k.wrapped)), keys.map((k) => k.kekVersion), now],
  );
}

/**
 * Adds record keys. A key of the same record and version can only be a leftover of a write that
 * rolled back (the writer holds the record's row, at the version before, while it makes the key):
 * it seals nothing, and is replaced.
 */
export async function addRecordKeys(
  m: EntityManager,
  keys: ReadonlyArray<{ recordId: string; version: number; tenantId: string; subjectId: string; wrapped: Buffer }>,
  now: Date,
): Promise<void> {
  if (!keys.length) return;
  await m.query(
    `INSERT INTO record_key (record_id, version, tenant_id, subject_id, wrapped, created_at)
     SELECT *, $6::timestamptz FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::uuid[], $5::bytea[])
     ON CONFLICT (record_id, version) DO UPDATE SET wrapped = EXCLUDED.wrapped, tenant_id = EXCLUDED.tenant_id, subject_id = EXCLUDED.subject_id, created_at = EXCLUDED.created_at`,
    [
      keys.map((k) => k.recordId),
      keys.map((k) => k.version),
      keys.map((k) => k.tenantId),
      keys.map((k) => k.subjectId),
      byteaArray(keys.map((k) => k.wrapped)),
      now,
    ],
  );
}

/** A record key by what names it: its record and the version of the value it seals. */
export interface RecordKeyName {
  recordId: string;
  version: number;
}

const recordKeyNames = (rows: ReadonlyArray<{ record_id: string; version: number }>): RecordKeyName[] =>
  rows.map((r) => ({ recordId: r.record_id, version: r.version }));

/**
 * Destroys record keys: every version of each record, or with `belowVersion` the versions before
 * it (with the notes that asked for it). Returns which keys.
 */
export async function deleteRecordKeys(m: EntityManager, recordIds: readonly string[], belowVersion?: number): Promise<RecordKeyName[]> {
  if (!recordIds.length) return [];
  const deleted = await returning<{ record_id: string; version: number }>(
    m,
    `DELETE FROM record_key WHERE record_id = ANY($1::uuid[]) AND ($2::int IS NULL OR version < $2) RETURNING record_id, version`,
    [recordIds, belowVersion ?? null],
  );
  await m.query(`DELETE FROM retired_record_key WHERE record_id = ANY($1::uuid[]) AND ($2::int IS NULL OR below_version <= $2)`, [
    recordIds,
    belowVersion ?? null,
  ]);
  return recordKeyNames(deleted);
}

/** Notes that the records' keys below `belowVersion` are to be destroyed once their correction commits (a later note raises the bound). */
export async function addRetiredRecordKeys(m: EntityManager, notes: ReadonlyArray<{ recordId: string; belowVersion: number }>, now: Date): Promise<void> {
  if (!notes.length) return;
  await m.query(
    `INSERT INTO retired_record_key (record_id, below_version, created_at)
     SELECT *, $3::timestamptz FROM unnest($1::uuid[], $2::int[])
     ON CONFLICT (record_id) DO UPDATE SET below_version = greatest(retired_record_key.below_version, EXCLUDED.below_version), created_at = EXCLUDED.created_at`,
    [notes.map((n) => n.recordId), notes.map((n) => n.belowVersion), now],
  );
}

/** Up to `limit` notes of retired record keys, by record id after `after`. */
export async function retiredRecordKeys(m: EntityManager, after: string | null, limit: number): Promise<Array<{ recordId: string; belowVersion: number }>> {
  const rows: Array<{ record_id: string; below_version: number }> = await m.query(
    `SELECT record_id, below_version FROM retired_record_key WHERE $1::uuid IS NULL OR record_id > $1 ORDER BY record_id LIMIT $2`,
    [after, limit],
  );
  return rows.map((r) => ({ recordId: r.record_id, belowVersion: r.below_version }));
}

/** Destroys subjects' keys, and every record key under them; returns which (the subjects whose key it destroyed). */
export async function deleteSubjectKeys(m: EntityManager, subjectIds: readonly string[]): Promise<{ records: RecordKeyName[]; subjects: string[] }> {
  if (!subjectIds.length) return { records: [], subjects: [] };
  const records = await returning<{ record_id: string; version: number }>(
    m,
    `DELETE FROM record_key WHERE subject_id = ANY($1::uuid[]) RETURNING record_id, version`,
    [subjectIds],
  );
  const subjects = await returning<{ subject_id: string }>(m, `DELETE FROM subject_key WHERE subject_id = ANY($1::uuid[]) RETURNING subject_id`, [subjectIds]);
  return { records: recordKeyNames(records), subjects: subjects.map((r) => r.subject_id) };
}

/** Destroys every key of a tenant: its KEK, its blind-index key, and everything under them. */
export async function deleteTenantKeys(m: EntityManager, tenantId: string): Promise<number> {
  // One statement: a KEK cannot go while a subject key names it, and the check runs at the
  // statement's end, when the subject keys are gone too.
  const [{ n }]: Array<{ n: number }> = await m.query(
    `WITH keks AS (DELETE FROM tenant_key WHERE tenant_id = $1 RETURNING 1),
          subjects AS (DELETE FROM subject_key WHERE tenant_id = $1 RETURNING subject_id),
          records AS (DELETE FROM record_key WHERE subject_id IN (SELECT subject_id FROM subjects) RETURNING 1)
     SELECT ((SELECT count(*) FROM keks) + (SELECT count(*) FROM subjects) + (SELECT count(*) FROM records))::int AS n`,
    [tenantId],
  );
  return n;
}

/**
 * Removes destroyed keys' dead tuples from the tables' pages at once (VACUUM cannot run in a
 * transaction): a deleted row stays readable on disk until vacuumed.
 */
export async function vacuumKeys(keystore: DataSource): Promise<void> {
  await keystore.query(`VACUUM record_key, subject_key, tenant_key`);
}

/**
 * Takes the key tables' statistics now. Until autovacuum first looks at them, the planner takes
 * tables it has never analysed for nearly empty: a page's key lookup then joined every key of the
 * store (400 ms for 100 keys among 20,000, seconds at 200,000) instead of finding each by its index.
 */
export async function analyzeKeys(keystore: DataSource): Promise<void> {
  await keystore.query(`ANALYZE record_key, subject_key, tenant_key`);
}

/**
 * The same, when a key table has never been analysed (a key store restored from a dump, which
 * carries no statistics before PostgreSQL 18, or filled since it was made).
 */
export async function analyzeKeysIfNever(keystore: DataSource): Promise<void> {
  const [{ never }] = await keystore.query(
    `SELECT count(*)::int AS never FROM pg_catalog.pg_class
      WHERE relnamespace = 'public'::regnamespace AND relname IN ('record_key', 'subject_key', 'tenant_key') AND reltuples < 0`,
  );
  if (never) await analyzeKeys(keystore);
}

/** Which of `refs` (record id, version) have a key. */
export async function existingRecordKeys(keystore: DataSource, refs: ReadonlyArray<{ recordId: string; version: number }>): Promise<Set<string>> {
  if (!refs.length) return new Set();
  const rows: Array<{ record_id: string; version: number }> = await keystore.query(
    `SELECT r.record_id, r.version FROM unnest($1::uuid[], $2::int[]) AS want(record_id, version)
       JOIN record_key r USING (record_id, version)`,
    [refs.map((r) => r.recordId), refs.map((r) => r.version)],
  );
  return new Set(rows.map((r) => `${r.record_id}/${r.version}`));
}

// Rotation (key-ring.ts): re-wrapping keys under a new wrapping key, batch by batch.

export interface WrappedTenantKey {
  tenantId: string;
  kind: "KEK" | "INDEX";
  version: number;
  wrapped: Buffer;
  masterVersion: number;
}

/** Up to `limit` tenant keys wrapped under another master key version than `masterVersion`, held until the caller's transaction ends. */
export async function tenantKeysNotUnder(m: EntityManager, masterVersion: number, limit: number): Promise<WrappedTenantKey[]> {
  const rows: Array<{ tenant_id: string; kind: "KEK" | "INDEX"; version: number; wrapped: Buffer; master_version: number }> = await m.query(
    `SELECT tenant_id, kind, version, wrapped, master_version FROM tenant_key WHERE master_version <> $1 LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [masterVersion, limit],
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, kind: r.kind, version: r.version, wrapped: r.wrapped, masterVersion: r.master_version }));
}

export async function rewrapTenantKeys(m: EntityManager, keys: readonly WrappedTenantKey[]): Promise<void> {
  for (const k of keys) {
    await m.query(`UPDATE tenant_key SET wrapped = $4, master_version = $5 WHERE tenant_id = $1 AND kind = $2 AND version = $3`, [
      k.tenantId,
      k.kind,
      k.version,
      k.wrapped,
      k.masterVersion,
    ]);
  }
}

/** Every tenant with a KEK: its newest version, and whether a rotation is under way (an older version is left, with or without subject keys under it). */
export async function kekStates(keystore: DataSource): Promise<Array<{ tenantId: string; newest: number; behind: boolean }>> {
  const rows: Array<{ tenant_id: string; newest: number; behind: boolean }> = await keystore.query(
    `SELECT t.tenant_id, max(t.version) AS newest,
            count(*) > 1 OR EXISTS (SELECT 1 FROM subject_key s WHERE s.tenant_id = t.tenant_id AND s.kek_version < max(t.version)) AS behind
       FROM tenant_key t WHERE t.kind = 'KEK' GROUP BY t.tenant_id`,
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, newest: r.newest, behind: r.behind }));
}

/** Up to `limit` of the tenant's subject keys wrapped under a KEK older than `version`, held until the caller's transaction ends. */
export async function subjectKeysBelow(
  m: EntityManager,
  tenantId: string,
  version: number,
  limit: number,
): Promise<Array<{ subjectId: string; wrapped: Buffer; kekVersion: number }>> {
  const rows: Array<{ subject_id: string; wrapped: Buffer; kek_version: number }> = await m.query(
    `SELECT subject_id, wrapped, kek_version FROM subject_key WHERE tenant_id = $1 AND kek_version < $2 LIMIT $3 FOR UPDATE SKIP LOCKED`,
    [tenantId, version, limit],
  );
  return rows.map((r) => ({ subjectId: r.subject_id, wrapped: r.wrapped, kekVersion: r.kek_version }));
}

export async function rewrapSubjectKeys(m: EntityManager, keys: ReadonlyArray<{ subjectId: string; wrapped: Buffer; kekVersion: number }>): Promise<void> {
  if (!keys.length) return;
  await m.query(
    `UPDATE subject_key s SET wrapped = k.wrapped, kek_version = k.kek_version
       FROM unnest($1::uuid[], $2::bytea[], $3::int[]) AS k (subject_id, wrapped, kek_version) WHERE s.subject_id = k.subject_id`,
    [keys.map((k) => k.subjectId), byteaArray(keys.map((k) => k.wrapped)), keys.map((k) => k.kekVersion)],
  );
}

/**
 * Destroys the tenant's KEK versions older than `newest` that wrap no subject key any more; how
 * many. A subject key written under one of them meanwhile makes it fail (PG_FOREIGN_KEY_VIOLATION):
 * that KEK is still needed.
 */
export async function dropRetiredKeks(m: EntityManager, tenantId: string, newest: number): Promise<number> {
  return countedChange(
    m,
    `DELETE FROM tenant_key t WHERE t.tenant_id = $1 AND t.kind = 'KEK' AND t.version < $2
        AND NOT EXISTS (SELECT 1 FROM subject_key s WHERE s.tenant_id = t.tenant_id AND s.kek_version = t.version)
     RETURNING 1`,
    [tenantId, newest],
  );
}

/** Counts one more destruction of keys by the purge (in the destroying transaction: both commit, or neither). */
export async function raiseShredEpoch(m: EntityManager): Promise<void> {
  await m.query(`UPDATE shred_epoch SET epoch = epoch + 1`);
}

/** How many times the purge has destroyed keys in this key store. */
export async function shredEpoch(m: EntityManager): Promise<number> {
  const [row]: Array<{ epoch: string }> = await m.query(`SELECT epoch FROM shred_epoch`);
  return Number(row.epoch);
}

/** Those of the records that have a key (of any version). */
export async function recordsWithKeys(m: EntityManager, recordIds: readonly string[]): Promise<Set<string>> {
  const rows: Array<{ record_id: string }> = await m.query(`SELECT DISTINCT record_id FROM record_key WHERE record_id = ANY($1::uuid[])`, [recordIds]);
  return new Set(rows.map((r) => r.record_id));
}

/** Those of the subjects that have a key. */
export async function subjectsWithKeys(m: EntityManager, subjectIds: readonly string[]): Promise<Set<string>> {
  const rows: Array<{ subject_id: string }> = await m.query(`SELECT subject_id FROM subject_key WHERE subject_id = ANY($1::uuid[])`, [subjectIds]);
  return new Set(rows.map((r) => r.subject_id));
}
