import type { DataSource } from "typeorm";
import { Role } from "../../shared/auth/role";
import { OPERATOR_CHAIN } from "./audit-chain";
import { inMaintenance } from "../../shared/db/session";
import { CHAIN_KEY_SQL, readHeadAsMaintenance } from "./audit-chain.store";
import type { AuditService } from "./audit.service";
import { AUDIT_LOG_RETENTION_DAYS } from "../tenant/tenant.policy";
import { auditRetentionDaysSql } from "../tenant/tenant.store";

export const RETENTION_ACTOR = { subject: "custodian-retention", role: Role.OPERATOR, tenantId: null, dataSubjectId: null };

/**
 * The chains whose oldest retained entry is past its tenant's audit retention (DOMAIN rule 8),
 * with the cutoff: entries of purged tenants keep their tenant's policy (the tenant row stays),
 * the operators' chain keeps the longest, 365 days. `now` is the service clock (rule 10).
 */
const DUE_CHAINS = `
  SELECT chain_key, cutoff, anchor_seq
    FROM (SELECT c.chain_key, c.anchor_seq, c.last_seq,
                 $1::timestamptz - make_interval(days => coalesce(${auditRetentionDaysSql("c.chain_key")}, ${AUDIT_LOG_RETENTION_DAYS.max})) AS cutoff
            FROM audit_chain c) c
   WHERE c.anchor_seq < c.last_seq
     AND EXISTS (SELECT 1 FROM audit_log a
                  WHERE ${CHAIN_KEY_SQL} = c.chain_key AND a.chain_seq = c.anchor_seq + 1 AND a.occurred_at < c.cutoff)`;

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
    const chains: Array<{ chain_key: string; cutoff: Date; anchor_seq: string }> = await inMaintenance(this.db, (m) => m.query(DUE_CHAINS, [now]));
    let purged = 0;
    for (const chain of chains) {
      purged += options.dryRun
        ? await this.countExpired(chain.chain_key, chain.cutoff, chain.anchor_seq)
        : await this.purgeChain(chain.chain_key, chain.cutoff, now);
    }
    return purged;
  }

  private async countExpired(chainKey: string, cutoff: Date, anchorSeq: string): Promise<number> {
    const [{ n }] = await inMaintenance(this.db, (m) =>
      m.query(
        `SELECT count(*)::int AS n FROM audit_log a
        WHERE ${CHAIN_KEY_SQL} = $1 AND a.chain_seq > $2
          AND a.chain_seq < coalesce((SELECT min(a.chain_seq) FROM audit_log a
                                       WHERE ${CHAIN_KEY_SQL} = $1 AND a.chain_seq > $2 AND a.occurred_at >= $3), 9223372036854775807)`,
        [chainKey, anchorSeq, cutoff],
      ),
    );
    return n;
  }

  private async purgeChain(chainKey: string, cutoff: Date, now: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const purged = await inMaintenance(this.db, async (manager) => {
        // Waits for a writer or another purger of this chain; the next statement sees their work.
        const head = await readHeadAsMaintenance(manager, chainKey, true);
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
          [chainKey, head.anchorSeq, cutoff, this.batchSize],
        );
        if (result.purged > 0) {
          await this.audit.append(manager, {
            tenantId: chainKey === OPERATOR_CHAIN ? null : chainKey,
            occurredAt: now,
            actor: RETENTION_ACTOR,
            action: "AUDIT_LOG_PURGED",
            targetType: "AuditLog",
            outcome: "ALLOWED",
            details: { purgedEntries: result.purged, anchorSeq: Number(result.anchor_seq), anchorHash: result.anchor_hash, cutoff: cutoff.toISOString() },
          });
        }
        return result.purged;
      });
      total += purged;
      if (purged < this.batchSize) return total;
    }
  }
}
