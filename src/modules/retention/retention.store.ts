import type { EntityManager } from "typeorm";
import { returning } from "../../shared/db/database";

/** Retention's own table, purge_tally: what a run purged per tenant until its data.purged event is written. */

/** What one batch purged of one tenant. */
export interface PurgeCounts {
  records?: number;
  dataSubjects?: number;
  idempotencyKeys?: number;
  tenantPurged?: boolean;
}

/** Adds a batch's counts to its tenant's tally, in the batch's transaction: a run's counts are never lost, even when it does not finish. */
export async function tally(manager: EntityManager, tenantId: string, counts: PurgeCounts): Promise<void> {
  await manager.query(
    `INSERT INTO purge_tally AS p (tenant_id, records, data_subjects, idempotency_keys, tenant_purged) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id) DO UPDATE SET records = p.records + $2, data_subjects = p.data_subjects + $3,
       idempotency_keys = p.idempotency_keys + $4, tenant_purged = p.tenant_purged OR $5`,
    [tenantId, counts.records ?? 0, counts.dataSubjects ?? 0, counts.idempotencyKeys ?? 0, counts.tenantPurged ?? false],
  );
}

/** Empties the tallies, returning them (in the caller's transaction, which writes their events). */
export function takeTallies(
  manager: EntityManager,
): Promise<Array<{ tenant_id: string; records: number; data_subjects: number; idempotency_keys: number; tenant_purged: boolean }>> {
  return returning(manager, `DELETE FROM purge_tally RETURNING tenant_id, records, data_subjects, idempotency_keys, tenant_purged`, []);
}

/** The key store's shred count as this database's last retention run saw it (its own table, shred_epoch). */
export async function shredEpochSeen(manager: EntityManager): Promise<number> {
  const [row]: Array<{ epoch: string }> = await manager.query(`SELECT epoch FROM shred_epoch`);
  return Number(row.epoch);
}

export async function setShredEpochSeen(manager: EntityManager, epoch: number): Promise<void> {
  await manager.query(`UPDATE shred_epoch SET epoch = greatest(epoch, $1)`, [epoch]);
}
