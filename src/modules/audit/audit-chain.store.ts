import type { EntityManager } from "typeorm";
import type { AuditDetails } from "../../shared/audit/audit-draft";
import { type ChainVerifier, GENESIS_HASH, type ChainHead, type ChainLink, type CheckpointClaim } from "./audit-chain";
import { checkpointMessage, type AuditSigner } from "./audit-signer";

/** The expression of the chain index: a tenant's id, or the nil uuid for the operators' chain. */
export const CHAIN_KEY_SQL = "coalesce(a.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid)";

type HeadRow = { anchor_seq: string; anchor_hash: string; last_seq: string; last_hash: string };

function toHead(rows: HeadRow[]): ChainHead {
  if (!rows.length) return { anchorSeq: 0, anchorHash: GENESIS_HASH, lastSeq: 0, lastHash: GENESIS_HASH };
  const [h] = rows;
  return { anchorSeq: Number(h.anchor_seq), anchorHash: h.anchor_hash, lastSeq: Number(h.last_seq), lastHash: h.last_hash };
}

/**
 * The chain's head row, read by a request through audit_chain_head, which checks the chain is
 * in the request's scope; `hold` keeps it locked (FOR SHARE) until the transaction ends, so the
 * chain's writers and its purge wait. A chain nothing was ever written to starts at genesis.
 */
export async function readHead(manager: EntityManager, chainKey: string, hold: boolean): Promise<ChainHead> {
  return toHead(await manager.query(`SELECT anchor_seq, anchor_hash, last_seq, last_hash FROM audit_chain_head($1, $2)`, [chainKey, hold]));
}

/** The head as custodian_maintenance reads it: from the table, locked FOR UPDATE by the purge. */
export async function readHeadAsMaintenance(manager: EntityManager, chainKey: string, forUpdate: boolean): Promise<ChainHead> {
  return toHead(
    await manager.query(`SELECT anchor_seq, anchor_hash, last_seq, last_hash FROM audit_chain WHERE chain_key = $1${forUpdate ? " FOR UPDATE" : ""}`, [
      chainKey,
    ]),
  );
}

/** Entries a verification reads per statement: memory stays flat however long the chain is. */
const VERIFY_PAGE = 5000;

/**
 * Walks the chain after `after` up to `until` (the head when omitted), page by page, feeding the
 * verifier; the database recomputes each hash with the function that wrote it.
 */
export async function walkChain(
  manager: EntityManager,
  chainKey: string,
  verifier: ChainVerifier,
  after: number,
  until = Number.MAX_SAFE_INTEGER,
): Promise<void> {
  for (;;) {
    const rows: Array<{ id: string; chain_seq: string; prev_hash: string; hash: string; recomputed: string; purge: AuditDetails | null }> = await manager.query(
      `SELECT a.id, a.chain_seq, a.prev_hash, a.hash, audit_log_hash(a.prev_hash, a) AS recomputed,
              CASE WHEN a.action = 'AUDIT_LOG_PURGED' THEN a.details END AS purge
         FROM audit_log a
        WHERE ${CHAIN_KEY_SQL} = $1 AND a.chain_seq > $2 AND a.chain_seq <= $3
        ORDER BY ${CHAIN_KEY_SQL}, a.chain_seq LIMIT $4`,
      [chainKey, after, until, VERIFY_PAGE],
    );
    const links: ChainLink[] = rows.map((r) => ({
      id: r.id,
      seq: Number(r.chain_seq),
      prevHash: r.prev_hash,
      hash: r.hash,
      recomputedHash: r.recomputed,
      purgeAnchor: r.purge ? { seq: Number(r.purge.anchorSeq), hash: String(r.purge.anchorHash) } : null,
    }));
    if (!verifier.feed(links) || rows.length < VERIFY_PAGE) return;
    after = links[links.length - 1].seq;
  }
}

export interface StoredCheckpoint extends CheckpointClaim {
  chainKey: string;
  signedAt: Date;
  keyId: string;
  signature: string;
}

/** The chain's newest `limit` checkpoints, newest first. */
export async function checkpointsOf(manager: EntityManager, chainKey: string, limit: number): Promise<StoredCheckpoint[]> {
  return (await checkpointsOfChains(manager, [chainKey], limit))[0];
}

/** The newest `limit` checkpoints of each chain, newest first, in one statement. */
export async function checkpointsOfChains(manager: EntityManager, chainKeys: readonly string[], limit: number): Promise<StoredCheckpoint[][]> {
  const rows: Array<{ chain_key: string; chain_seq: string; hash: string; signed_at: Date; key_id: string; signature: string }> = await manager.query(
    `SELECT chains.key AS chain_key, c.chain_seq, c.hash, c.signed_at, c.key_id, c.signature
       FROM unnest($1::uuid[]) AS chains(key)
       CROSS JOIN LATERAL (SELECT * FROM audit_checkpoint WHERE chain_key = chains.key ORDER BY chain_seq DESC LIMIT $2) c
      ORDER BY c.chain_seq DESC`,
    [chainKeys, limit],
  );
  return chainKeys.map((chainKey) =>
    rows
      .filter((row) => row.chain_key === chainKey)
      .map((row) => ({ chainKey, seq: Number(row.chain_seq), hash: row.hash, signedAt: row.signed_at, keyId: row.key_id, signature: row.signature })),
  );
}

/** The chain's newest checkpoint, or null when none was signed yet. */
export async function newestCheckpoint(manager: EntityManager, chainKey: string): Promise<StoredCheckpoint | null> {
  return (await checkpointsOf(manager, chainKey, 1))[0] ?? null;
}

/** True when the checkpoint carries this service's signature over exactly its fields. */
export function checkpointIsSigned(signer: AuditSigner, c: StoredCheckpoint): boolean {
  return signer.verifies(c.keyId, checkpointMessage(c), c.signature);
}

/** How many entries the chain holds in (after, upTo]: an index-only count, no hashing. */
export async function entriesBetween(manager: EntityManager, chainKey: string, after: number, upTo: number): Promise<number> {
  const [{ n }] = await manager.query(`SELECT count(*)::int AS n FROM audit_log a WHERE ${CHAIN_KEY_SQL} = $1 AND a.chain_seq > $2 AND a.chain_seq <= $3`, [
    chainKey,
    after,
    upTo,
  ]);
  return n;
}

/** The entry at a position, for starting a walk at a checkpoint: what it links to. */
export async function entryAt(manager: EntityManager, chainKey: string, seq: number): Promise<{ prevHash: string; hash: string } | null> {
  const [row]: Array<{ prev_hash: string; hash: string }> = await manager.query(
    `SELECT a.prev_hash, a.hash FROM audit_log a WHERE ${CHAIN_KEY_SQL} = $1 AND a.chain_seq = $2`,
    [chainKey, seq],
  );
  return row ? { prevHash: row.prev_hash, hash: row.hash } : null;
}

/** A scalar count of the entries in the tenant's chain that occurred before `cutoffSql`. */
export function entriesBeforeCountSql(tenantIdSql: string, cutoffSql: string): string {
  return `(SELECT count(*) FROM audit_log a WHERE ${CHAIN_KEY_SQL} = ${tenantIdSql} AND a.occurred_at < ${cutoffSql})`;
}
