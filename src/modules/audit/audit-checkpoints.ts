import { auditVerifications } from "../../shared/metrics";
import type { DataSource } from "typeorm";
import { checkpointMessage, type AuditSigner } from "./audit-signer";
import { entryAt, newestCheckpoint, readHeadAsMaintenance } from "./audit-chain.store";
import { chainsBehindCheckpoints, insertCheckpoint } from "./audit-log.store";
import { verifyChain } from "./audit-verification";
import { PG_SERIALIZATION_FAILURE, pgErrorCode } from "../../shared/db/database";

/** Entries verified (and then signed) per transaction: a first run over a long chain takes several. */
export const CHECKPOINT_SEGMENT = 50_000;

export interface CheckpointRun {
  signed: number;
  /** Chains that failed verification: nothing was signed for them; operators must look. */
  invalidChains: string[];
}

/**
 * Part of the maintenance run (as custodian_maintenance): verifies each chain from its newest
 * checkpoint onwards, segment by segment, and signs a checkpoint at the end of each segment
 * that verified. A segment is read in one REPEATABLE READ snapshot without locking the head:
 * entries up to the segment's end never change (the log is append-only; the purge removes only
 * older ones), so writers are never held up. Two instances signing at once: the second's insert
 * of the same position is skipped.
 */
export class AuditCheckpointer {
  constructor(
    private readonly db: DataSource,
    private readonly signer: AuditSigner,
    private readonly segment = CHECKPOINT_SEGMENT,
  ) {}

  async sign(now: Date): Promise<CheckpointRun> {
    const run: CheckpointRun = { signed: 0, invalidChains: [] };
    const chains = await chainsBehindCheckpoints(this.db.manager);
    for (const chain of chains) {
      for (;;) {
        const step = await this.signNextSegment(chain.chain_key, Number(chain.last_seq), now);
        if (step === "invalid") run.invalidChains.push(chain.chain_key);
        if (step !== "signed") break;
        run.signed += 1;
      }
    }
    return run;
  }

  /**
   * One segment: "signed", "done" (nothing after the newest checkpoint up to `upTo`, or another
   * instance is signing this chain right now) or "invalid".
   */
  private async signNextSegment(chainKey: string, upTo: number, now: Date): Promise<"signed" | "done" | "invalid"> {
    try {
      return await this.signSegment(chainKey, upTo, now);
    } catch (error) {
      // Another instance signed the same position first: its checkpoint stands.
      if (pgErrorCode(error) === PG_SERIALIZATION_FAILURE) return "done";
      throw error;
    }
  }

  private signSegment(chainKey: string, upTo: number, now: Date): Promise<"signed" | "done" | "invalid"> {
    return this.db.transaction("REPEATABLE READ", async (manager) => {
      const head = await readHeadAsMaintenance(manager, chainKey, false);
      const signed = (await newestCheckpoint(manager, chainKey))?.seq ?? null;
      const from = Math.max(signed ?? 0, head.anchorSeq);
      // A chain purged before it had any checkpoint is verified whole once: its start is only
      // checked against the purge entry, which may lie beyond a first segment.
      const whole = signed === null && head.anchorSeq > 0;
      const target = Math.min(upTo, head.lastSeq, whole ? Number.MAX_SAFE_INTEGER : from + this.segment);
      if (target <= from) return "done";
      const end = await entryAt(manager, chainKey, target);
      if (!end) return "invalid";
      // The segment's end stands in for the head: the walk must arrive exactly there.
      const result = await verifyChain(manager, this.signer, chainKey, { ...head, lastSeq: target, lastHash: end.hash }, "checkpoint", target);
      auditVerifications.inc({ result: result.problem ? "invalid" : "valid" });
      if (result.problem) return "invalid";
      const checkpoint = { chainKey, seq: target, hash: end.hash, signedAt: now };
      await insertCheckpoint(manager, { ...checkpoint, keyId: this.signer.keyId, signature: this.signer.sign(checkpointMessage(checkpoint)) });
      return "signed";
    });
  }
}
