import type { EntityManager } from "typeorm";
import { EventType } from "../events/event-type";
import { emitOn } from "../events/outbox";

/** What one batch purged of one tenant. */
export interface PurgeCounts {
  records?: number;
  dataSubjects?: number;
  idempotencyKeys?: number;
  tenantPurged?: boolean;
}

/**
 * Adds a batch's counts to its tenant's tally, in the batch's transaction (purge_tally, this
 * feature's table): the counts of a run are never lost, even when the run is not finished.
 */
export async function tally(manager: EntityManager, tenantId: string, counts: PurgeCounts): Promise<void> {
  await manager.query(
    `INSERT INTO purge_tally AS p (tenant_id, records, data_subjects, idempotency_keys, tenant_purged) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id) DO UPDATE SET records = p.records + $2, data_subjects = p.data_subjects + $3,
       idempotency_keys = p.idempotency_keys + $4, tenant_purged = p.tenant_purged OR $5`,
    [tenantId, counts.records ?? 0, counts.dataSubjects ?? 0, counts.idempotencyKeys ?? 0, counts.tenantPurged ?? false],
  );
}

/**
 * Turns every tally into one `data.purged` event per tenant, in one transaction that also empties
 * them (DOMAIN rule 28): called at the end of a run, and at its start for the tallies a crashed
 * run left. A tenant purged whole gets none: its events and endpoints went with it.
 */
export async function flushTallies(manager: EntityManager, now: Date): Promise<number> {
  const rows: Array<{ tenant_id: string; records: number; data_subjects: number; idempotency_keys: number; tenant_purged: boolean }> =
    await manager.query(`DELETE FROM purge_tally RETURNING tenant_id, records, data_subjects, idempotency_keys, tenant_purged`);
  const events = rows
    .filter((r) => !r.tenant_purged)
    .map((r) => ({
      tenantId: r.tenant_id,
      type: EventType.DATA_PURGED,
      occurredAt: now,
      data: { recordsPurged: r.records, dataSubjectsPurged: r.data_subjects, idempotencyKeysPurged: r.idempotency_keys },
    }));
  await emitOn(manager, events);
  return events.length;
}
