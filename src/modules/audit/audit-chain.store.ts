import type { EntityManager } from "typeorm";
import { GENESIS_HASH, type ChainHead } from "./audit-chain";

/** The expression of the chain index: a tenant's id, or the nil uuid for the operators' chain. */
export const CHAIN_KEY_SQL = "coalesce(a.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid)";

/**
 * The chain's head row; a chain nothing was ever written to is empty and starts at genesis.
 * "update" (the purge, as custodian_maintenance) locks it to move the anchor; a request reads it
 * through audit_chain_head, which checks the chain is in its scope ("share" holds it until the
 * transaction ends: the chain's writers wait).
 */
export async function readHead(manager: EntityManager, chainKey: string, lock?: "update" | "share"): Promise<ChainHead> {
  const rows: Array<{ anchor_seq: string; anchor_hash: string; last_seq: string; last_hash: string }> = await manager.query(
    lock === "update"
      ? `SELECT anchor_seq, anchor_hash, last_seq, last_hash FROM audit_chain WHERE chain_key = $1 FOR UPDATE`
      : `SELECT anchor_seq, anchor_hash, last_seq, last_hash FROM audit_chain_head($1, $2)`,
    lock === "update" ? [chainKey] : [chainKey, lock === "share"],
  );
  if (!rows.length) return { anchorSeq: 0, anchorHash: GENESIS_HASH, lastSeq: 0, lastHash: GENESIS_HASH };
  const [h] = rows;
  return { anchorSeq: Number(h.anchor_seq), anchorHash: h.anchor_hash, lastSeq: Number(h.last_seq), lastHash: h.last_hash };
}
