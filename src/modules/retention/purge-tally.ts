import type { EntityManager } from "typeorm";
import { EventType } from "../events/event-type";
import { emitOn } from "../events/outbox";
import { takeTallies } from "./retention.store";

/**
 * Turns every tenant's tally into one `data.purged` event, in one transaction that also empties
 * them (DOMAIN rule 28): called at the end of a run, and at its start for the tallies a crashed
 * run left. A tenant purged whole gets none: its events and endpoints went with it.
 */
export async function flushTallies(manager: EntityManager, now: Date): Promise<number> {
  const events = (await takeTallies(manager))
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
