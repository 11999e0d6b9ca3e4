import type { EntityManager } from "typeorm";
import { ChainVerifier, type ChainHead, type ChainProblem } from "./audit-chain";
import { checkpointIsSigned, entriesBetween, entryAt, newestCheckpoint, walkChain, type StoredCheckpoint } from "./audit-chain.store";
import type { AuditSigner } from "./audit-signer";

export interface ChainVerificationResult {
  problem: ChainProblem | null;
  checked: number;
  /** The newest signed checkpoint, which the chain was compared with; null when none exists yet. */
  checkpoint: StoredCheckpoint | null;
}

/**
 * Verifies one chain against its head and its newest signed checkpoint. The caller holds the
 * head (or reads a snapshot), so no writer moves it meanwhile.
 *
 * - "checkpoint": from the newest checkpoint's entry to the head. The checkpoint's entry must
 *   still have the signed hash, so a rewrite of anything before it is found too, and the
 *   entries before it are counted (no hashing), so one removed or inserted there is found; an
 *   edit before it that leaves every hash alone takes "anchor". What is hashed is bounded by
 *   what was written since the last maintenance run.
 * - "anchor": every retained entry, comparing the checkpoint's position on the way.
 *
 * Either way a chain that ends before its newest checkpoint (its newest entries removed and the
 * head moved back) does not verify, nor does a checkpoint whose signature does not.
 */
export async function verifyChain(
  manager: EntityManager,
  signer: AuditSigner,
  chainKey: string,
  head: ChainHead,
  from: "checkpoint" | "anchor",
  /** Where the walk stops (the checkpointer's segment end); the head by default, and past it entries that should not be there are found. */
  until = Number.MAX_SAFE_INTEGER,
): Promise<ChainVerificationResult> {
  const checkpoint = await newestCheckpoint(manager, chainKey);
  const failed = (reason: string): ChainVerificationResult => ({ problem: { entryId: null, reason }, checked: 0, checkpoint });
  if (checkpoint && !checkpointIsSigned(signer, checkpoint)) {
    return failed("the newest checkpoint's signature does not verify (the checkpoint was altered, or signed with another key)");
  }
  if (checkpoint && checkpoint.seq > head.lastSeq) {
    return failed("the chain ends before its newest signed checkpoint (the newest entries were removed)");
  }
  let start: { seq: number; hash: string } | null = null;
  if (from === "checkpoint" && checkpoint && checkpoint.seq > head.anchorSeq) {
    const entry = await entryAt(manager, chainKey, checkpoint.seq);
    if (!entry) return failed("the entry of the newest signed checkpoint is missing (entries were removed)");
    const held = await entriesBetween(manager, chainKey, head.anchorSeq, checkpoint.seq);
    if (held !== checkpoint.seq - head.anchorSeq) {
      return failed(`entries before the newest signed checkpoint were removed or inserted (${held} held where ${checkpoint.seq - head.anchorSeq} were signed)`);
    }
    start = { seq: checkpoint.seq - 1, hash: entry.prevHash };
  }
  const verifier = new ChainVerifier(head, checkpoint, start);
  await walkChain(manager, chainKey, verifier, start?.seq ?? head.anchorSeq, until);
  return { problem: verifier.finish(), checked: verifier.checked, checkpoint };
}
