import type { EntityManager } from "typeorm";
import type { AuditDetails } from "../../shared/audit/audit-draft";
import type { Role } from "../../shared/auth/role";
import type { ProcessingPurpose } from "../purpose/processing-purpose";
import { AUDIT_LOG_RETENTION_DAYS } from "../tenant/tenant.policy";
import { auditRetentionDaysSql } from "../tenant/tenant.store";
import { CHAIN_KEY_SQL } from "./audit-chain.store";
import type { AuditOutcome } from "./audit-log.types";

/**
 * The audit log's entries (audit_log) and the maintenance statements over the chains
 * (audit_chain, audit_checkpoint): appending, paging, purging, and what is behind its checkpoint.
 * The heads and checkpoints themselves are read in audit-chain.store.ts.
 */

const ENTRY_COLUMNS = "tenant_id, occurred_at, actor, actor_role, action, target_type, target_id, purpose, outcome, error_code, details, request_id";
const ENTRY_COLUMN_COUNT = 12;

/**
 * Appends entries, each a row of the twelve ENTRY_COLUMNS' values; the table's trigger links each
 * into its chain. One statement: atomic, and committed on its own outside a transaction.
 */
export async function insertEntries(manager: EntityManager, rows: readonly unknown[][]): Promise<void> {
  const values = rows.map((_, row) => `(${Array.from({ length: ENTRY_COLUMN_COUNT }, (_, col) => `$${row * ENTRY_COLUMN_COUNT + col + 1}`).join(", ")})`);
  // No RETURNING: it would need the caller to be able to read the entry, and a partner (who
  // reads no chain) could then not be audited at all; its refusals failed under the read policy.
  await manager.query(`INSERT INTO audit_log (${ENTRY_COLUMNS}) VALUES ${values.join(", ")}`, rows.flat());
}

export interface EntryRow {
  id: string;
  tenant_id: string | null;
  chain_seq: string;
  occurred_at: Date;
  actor: string;
  actor_role: Role;
  action: string;
  target_type: string | null;
  target_id: string | null;
  purpose: ProcessingPurpose | null;
  outcome: AuditOutcome;
  error_code: string | null;
  details: AuditDetails | null;
  hash: string;
}

/** An EntryRow's columns of the entries `a`. */
const ENTRY_ROW_COLUMNS =
  "a.id, a.tenant_id, a.chain_seq, a.occurred_at, a.actor, a.actor_role, a.action, a.target_type, a.target_id, a.purpose, a.outcome, a.error_code, a.details, a.hash";

/** What narrows a chain's entries: each value is bound, never written into the statement. */
export interface EntryFilter {
  action?: string | null;
  actor?: string | null;
  outcome?: string | null;
  since?: Date | null;
  until?: Date | null;
}

/** The conditions over entries `a` of the chain `chains.key`, with their parameters from `$2` on. */
function entryConditions(filter: EntryFilter | null | undefined): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const where = [`${CHAIN_KEY_SQL} = chains.key`];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace("?", `$${params.length + 1}`));
  };
  if (filter?.action) add("a.action = ?", filter.action);
  if (filter?.actor) add("a.actor = ?", filter.actor);
  if (filter?.outcome) add("a.outcome = ?", filter.outcome);
  if (filter?.since) add("a.occurred_at >= ?", filter.since);
  if (filter?.until) add("a.occurred_at < ?", filter.until);
  return { where: where.join(" AND "), params };
}

/** Each chain's newest `limit` entries (before position `before`, when given), newest first, in one statement. */
export async function entriesOfChains(
  manager: EntityManager,
  chainKeys: readonly string[],
  filter: EntryFilter | null | undefined,
  before: string | null,
  limit: number,
): Promise<Array<EntryRow & { chain: string }>> {
  const { where, params } = entryConditions(filter);
  const all: unknown[] = [chainKeys, ...params];
  let pageWhere = where;
  if (before) {
    all.push(before);
    pageWhere += ` AND a.chain_seq < $${all.length}`;
  }
  all.push(limit);
  return manager.query(
    `SELECT chains.key AS chain, e.* FROM unnest($1::uuid[]) AS chains(key) CROSS JOIN LATERAL (
       SELECT ${ENTRY_ROW_COLUMNS} FROM audit_log a WHERE ${pageWhere} ORDER BY ${CHAIN_KEY_SQL} DESC, a.chain_seq DESC LIMIT $${all.length}) e
      ORDER BY e.chain_seq DESC`,
    all,
  );
}

/** The entries among `ids` (lower-case uuids), only `tenantId`'s when given. */
export function entriesByIds(manager: EntityManager, ids: readonly string[], tenantId: string | null): Promise<EntryRow[]> {
  return manager.query(`SELECT ${ENTRY_ROW_COLUMNS} FROM audit_log a WHERE a.id = ANY($1::uuid[]) AND ($2::uuid IS NULL OR a.tenant_id = $2)`, [ids, tenantId]);
}

/** How many entries of each chain match, in one statement. */
export async function entryCountsOfChains(
  manager: EntityManager,
  chainKeys: readonly string[],
  filter: EntryFilter | null | undefined,
): Promise<Map<string, number>> {
  const { where, params } = entryConditions(filter);
  const rows: Array<{ chain: string; n: number }> = await manager.query(
    `SELECT chains.key AS chain, (SELECT count(*)::int FROM audit_log a WHERE ${where}) AS n FROM unnest($1::uuid[]) AS chains(key)`,
    [chainKeys, ...params],
  );
  return new Map(rows.map((r) => [r.chain, r.n]));
}

/**
 * The chains whose oldest retained entry is past its tenant's audit retention (DOMAIN rule 8),
 * with the cutoff: entries of purged tenants keep their tenant's policy (the tenant row stays),
 * the operators' chain keeps the longest, 365 days.
 */
export function chainsDueForPurge(manager: EntityManager, now: Date): Promise<Array<{ chain_key: string; cutoff: Date; anchor_seq: string }>> {
  return manager.query(
    `SELECT chain_key, cutoff, anchor_seq
       FROM (SELECT c.chain_key, c.anchor_seq, c.last_seq,
                    $1::timestamptz - make_interval(days => coalesce(${auditRetentionDaysSql("c.chain_key")}, ${AUDIT_LOG_RETENTION_DAYS.max})) AS cutoff
               FROM audit_chain c) c
      WHERE c.anchor_seq < c.last_seq
        AND EXISTS (SELECT 1 FROM audit_log a
                     WHERE ${CHAIN_KEY_SQL} = c.chain_key AND a.chain_seq = c.anchor_seq + 1 AND a.occurred_at < c.cutoff)`,
    [now],
  );
}

/** The unbroken run of entries after the anchor that occurred before `cutoff`: what a purge would take. */
export async function countExpiredEntries(manager: EntityManager, chainKey: string, anchorSeq: string, cutoff: Date): Promise<number> {
  const [{ n }]: Array<{ n: number }> = await manager.query(
    `SELECT count(*)::int AS n FROM audit_log a
      WHERE ${CHAIN_KEY_SQL} = $1 AND a.chain_seq > $2
        AND a.chain_seq < coalesce((SELECT min(a.chain_seq) FROM audit_log a
                                     WHERE ${CHAIN_KEY_SQL} = $1 AND a.chain_seq > $2 AND a.occurred_at >= $3), 9223372036854775807)`,
    [chainKey, anchorSeq, cutoff],
  );
  return n;
}

/**
 * Deletes up to `limit` of the oldest entries after the anchor, while they are expired, and moves
 * the chain's anchor to the last one deleted; in the caller's transaction, which holds the head.
 */
export async function purgeExpiredBatch(
  manager: EntityManager,
  chainKey: string,
  anchorSeq: number,
  cutoff: Date,
  limit: number,
): Promise<{ purged: number; anchorSeq: string | null; anchorHash: string | null }> {
  await manager.query(`SELECT set_config('custodian.audit_purge', 'on', true)`);
  const [result]: Array<{ purged: number; anchor_seq: string | null; anchor_hash: string | null }> = await manager.query(
    `WITH batch AS (
       SELECT id, chain_seq, hash, bool_and(occurred_at < $3) OVER (ORDER BY chain_seq) AS expired
         FROM (SELECT a.id, a.chain_seq, a.hash, a.occurred_at FROM audit_log a
                WHERE ${CHAIN_KEY_SQL} = $1 AND a.chain_seq > $2
                ORDER BY ${CHAIN_KEY_SQL}, a.chain_seq LIMIT $4) first_entries
     ), gone AS (
       DELETE FROM audit_log a USING batch b WHERE a.id = b.id AND b.expired RETURNING a.chain_seq, a.hash
     ), last AS (
       SELECT chain_seq, hash FROM gone ORDER BY chain_seq DESC LIMIT 1
     ), moved AS (
       UPDATE audit_chain c SET anchor_seq = last.chain_seq, anchor_hash = last.hash FROM last WHERE c.chain_key = $1 RETURNING 1
     )
     SELECT (SELECT count(*) FROM gone)::int AS purged, (SELECT chain_seq FROM last) AS anchor_seq, (SELECT hash FROM last) AS anchor_hash`,
    [chainKey, anchorSeq, cutoff, limit],
  );
  return { purged: result.purged, anchorSeq: result.anchor_seq, anchorHash: result.anchor_hash };
}

/** Chains with entries after their newest checkpoint (or with none yet), with their last position. */
export function chainsBehindCheckpoints(manager: EntityManager): Promise<Array<{ chain_key: string; last_seq: string }>> {
  return manager.query(`
    SELECT c.chain_key, c.last_seq FROM audit_chain c
     WHERE c.last_seq > greatest(c.anchor_seq, coalesce((SELECT max(k.chain_seq) FROM audit_checkpoint k WHERE k.chain_key = c.chain_key), 0))
     ORDER BY c.chain_key`);
}

/** Keeps a signed checkpoint; one another instance signed at the same position first stands. */
export async function insertCheckpoint(
  manager: EntityManager,
  c: { chainKey: string; seq: number; hash: string; signedAt: Date; keyId: string; signature: string },
): Promise<void> {
  await manager.query(
    `INSERT INTO audit_checkpoint (chain_key, chain_seq, hash, signed_at, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (chain_key, chain_seq) DO NOTHING`,
    [c.chainKey, c.seq, c.hash, c.signedAt, c.keyId, c.signature],
  );
}

/** Which of the notifications `ids` have their BREACH_NOTIFICATION_SENT entry. */
export async function sentNotificationTargets(manager: EntityManager, ids: readonly string[]): Promise<Set<string>> {
  const rows: Array<{ target_id: string }> = await manager.query(
    `SELECT DISTINCT target_id FROM audit_log WHERE action = 'BREACH_NOTIFICATION_SENT' AND target_id = ANY($1::text[])`,
    [ids],
  );
  return new Set(rows.map((r) => r.target_id));
}
