import type { EntityManager } from "typeorm";
import { countedChange } from "../../shared/db/database";
import type { EventType } from "./event-type";

/**
 * The outbox's statements (the event table; endpoints' and deliveries' own are in
 * webhooks.store.ts). Each database (control, each region) has its own; the caller's manager chooses.
 */

export interface EventRow {
  id: string;
  tenantId: string | null;
  type: EventType;
  occurredAt: Date;
  data: Record<string, unknown>;
}

/**
 * Writes events in the caller's transaction (the outbox). The table's triggers, in the same
 * statement, write a PENDING delivery, due at once, for each enabled endpoint of the event's
 * owner that takes its type, and announce each event at commit (NOTIFY custodian_events).
 */
export async function insertEvents(manager: EntityManager, events: readonly EventRow[]): Promise<void> {
  if (!events.length) return;
  await manager.query(
    `INSERT INTO event (id, tenant_id, type, occurred_at, data)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::jsonb[])
     ON CONFLICT (id) DO NOTHING`,
    [
      events.map((e) => e.id),
      events.map((e) => e.tenantId),
      events.map((e) => e.type),
      events.map((e) => e.occurredAt),
      events.map((e) => JSON.stringify(e.data)),
    ],
  );
}

export async function eventsById(manager: EntityManager, ids: readonly string[]): Promise<EventRow[]> {
  if (!ids.length) return [];
  return manager.query(`SELECT id, tenant_id AS "tenantId", type, occurred_at AS "occurredAt", data FROM event WHERE id = ANY ($1::uuid[])`, [ids]);
}

/** Which of `ids` are events here (a repair writes only the missing). */
export async function existingEventIds(manager: EntityManager, ids: readonly string[]): Promise<Set<string>> {
  const rows: Array<{ id: string }> = await manager.query(`SELECT id FROM event WHERE id = ANY ($1::uuid[])`, [ids]);
  return new Set(rows.map((r) => r.id));
}

/** Events (and, by cascade, their deliveries) older than `before`: kept 30 days (DOMAIN rule 34). */
export function purgeEventsBefore(manager: EntityManager, before: Date, limit: number): Promise<number> {
  return countedChange(manager, `DELETE FROM event WHERE id IN (SELECT id FROM event WHERE occurred_at < $1 ORDER BY occurred_at LIMIT $2) RETURNING 1`, [
    before,
    limit,
  ]);
}

/** A purged tenant's events, endpoints and deliveries. */
export async function purgeEventsOfTenant(manager: EntityManager, tenantId: string, limit: number): Promise<number> {
  const events = await countedChange(manager, `DELETE FROM event WHERE id IN (SELECT id FROM event WHERE tenant_id = $1 LIMIT $2) RETURNING 1`, [
    tenantId,
    limit,
  ]);
  if (events < limit) await manager.query(`DELETE FROM webhook_endpoint WHERE tenant_id = $1`, [tenantId]);
  return events;
}
