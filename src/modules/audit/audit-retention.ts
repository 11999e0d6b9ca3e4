import type { DataSource } from "typeorm";
import { Role } from "../../shared/auth/role";
import { OPERATOR_CHAIN } from "./audit-chain";
import { inMaintenance } from "../../shared/db/session";
import { readHeadAsMaintenance } from "./audit-chain.store";
import { chainsDueForPurge, countExpiredEntries, purgeExpiredBatch } from "./audit-log.store";
import type { AuditService } from "./audit.service";

export const RETENTION_ACTOR = { subject: "custodian-retention", role: Role.OPERATOR, tenantId: null, dataSubjectId: null };

/**
 * Purges expired audit entries chain by chain, always the oldest first, in batches that are each
 * a transaction of their own. Only the unbroken run of expired entries at the start of a chain
 * goes (an entry is never purged while an older-positioned one stays), so the retained chain is
 * contiguous; the last purged hash becomes the chain's anchor, and an AUDIT_LOG_PURGED entry in
 * the chain records where the anchor moved, so verification still finds a hand-moved start.
 * The chain's head row is locked for each batch: two instances purging at once take turns and
 * each deletes (and counts) different entries.
 */
export class AuditRetention {
  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly batchSize = 5000,
  ) {}

  async purge(now: Date, options: { dryRun: boolean }): Promise<number> {
    const chains = await inMaintenance(this.db, (m) => chainsDueForPurge(m, now));
    let purged = 0;
    for (const chain of chains) {
      purged += options.dryRun
        ? await this.countExpired(chain.chain_key, chain.cutoff, chain.anchor_seq)
        : await this.purgeChain(chain.chain_key, chain.cutoff, now);
    }
    return purged;
  }

  private async countExpired(chainKey: string, cutoff: Date, anchorSeq: string): Promise<number> {
    return inMaintenance(this.db, (m) => countExpiredEntries(m, chainKey, anchorSeq, cutoff));
  }

  private async purgeChain(chainKey: string, cutoff: Date, now: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const purged = await inMaintenance(this.db, async (manager) => {
        // Waits for a writer or another purger of this chain; the next statement sees their work.
        const head = await readHeadAsMaintenance(manager, chainKey, true);
        const result = await purgeExpiredBatch(manager, chainKey, head.anchorSeq, cutoff, this.batchSize);
        if (result.purged > 0) {
          await this.audit.append(manager, {
            tenantId: chainKey === OPERATOR_CHAIN ? null : chainKey,
            occurredAt: now,
            actor: RETENTION_ACTOR,
            action: "AUDIT_LOG_PURGED",
            targetType: "AuditLog",
            outcome: "ALLOWED",
            details: { purgedEntries: result.purged, anchorSeq: Number(result.anchorSeq), anchorHash: result.anchorHash, cutoff: cutoff.toISOString() },
          });
        }
        return result.purged;
      });
      total += purged;
      if (purged < this.batchSize) return total;
    }
  }
}
