import type { EntityManager } from "typeorm";
import { changedRows, countedChange } from "../../shared/db/database";
import type { EventType } from "./event-type";

/**
 * The events feature's tables (event, webhook_endpoint, webhook_delivery): every statement over
 * them is here. Each database (control, each region) has its own; the caller's manager chooses.
 */

export interface EventRow {
  id: string;
  tenantId: string | null;
  type: EventType;
  occurredAt: Date;
  data: Record<string, unknown>;
}

const EVENT_COLUMNS = `id, tenant_id AS "tenantId", type, occurred_at AS "occurredAt", data`;

/**
 * Writes events in the caller's transaction (the outbox) and, in the same statement, a PENDING
 * delivery for each enabled endpoint of the event's owner that takes its type, due at once.
 * The insert's trigger announces each event at commit (NOTIFY custodian_events).
 */
export async function insertEvents(manager: EntityManager, events: readonly EventRow[]): Promise<void> {
  if (!events.length) return;
  await manager.query(
    `WITH e AS (
       INSERT INTO event (id, tenant_id, type, occurred_at, data)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::jsonb[])
       ON CONFLICT (id) DO NOTHING
       RETURNING id, tenant_id, type, occurred_at)
     INSERT INTO webhook_delivery (id, tenant_id, event_id, endpoint_id, status, next_attempt_at, created_at, updated_at)
     SELECT gen_random_uuid(), e.tenant_id, e.id, w.id, 'PENDING', e.occurred_at, e.occurred_at, e.occurred_at
       FROM e JOIN webhook_endpoint w ON w.enabled AND w.tenant_id IS NOT DISTINCT FROM e.tenant_id AND e.type = ANY (w.event_types)`,
    [
      events.map((e) => e.id),
      events.map((e) => e.tenantId),
      events.map((e) => e.type),
      events.map((e) => e.occurredAt),
      events.map((e) => JSON.stringify(e.data)),
    ],
  );
}

export function eventsByIds(manager: EntityManager, ids: readonly string[]): Promise<EventRow[]> {
  return manager.query(`SELECT ${EVENT_COLUMNS} FROM event WHERE id = ANY ($1::uuid[])`, [ids]);
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

// ------------------------------------------------------------------ endpoints

export interface EndpointRow {
  id: string;
  tenantId: string | null;
  url: string;
  eventTypes: EventType[];
  secret: string;
  previousSecret: string | null;
  previousSecretUntil: Date | null;
  enabled: boolean;
  disabledReason: string | null;
  failingSince: Date | null;
  createdAt: Date;
}

const ENDPOINT_COLUMNS = `id, tenant_id AS "tenantId", url, event_types AS "eventTypes", secret, previous_secret AS "previousSecret",
  previous_secret_until AS "previousSecretUntil", enabled, disabled_reason AS "disabledReason", failing_since AS "failingSince", created_at AS "createdAt"`;

/** The endpoints of one owner (a tenant, or null: the operators'), oldest first. */
export function endpointsOf(manager: EntityManager, tenantId: string | null): Promise<EndpointRow[]> {
  return manager.query(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE tenant_id IS NOT DISTINCT FROM $1 ORDER BY created_at, id`, [tenantId]);
}

export async function countEndpointsHeld(manager: EntityManager, tenantId: string | null): Promise<number> {
  // Locks the owner's endpoints: two creations at once cannot both pass the limit.
  const rows: unknown[] = await manager.query(`SELECT 1 FROM webhook_endpoint WHERE tenant_id IS NOT DISTINCT FROM $1 FOR UPDATE`, [tenantId]);
  return rows.length;
}

export async function endpointById(manager: EntityManager, id: string, lock = false): Promise<EndpointRow | null> {
  const [row]: EndpointRow[] = await manager.query(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE id = $1${lock ? " FOR UPDATE" : ""}`, [id]);
  return row ?? null;
}

export function endpointsByIds(manager: EntityManager, ids: readonly string[]): Promise<EndpointRow[]> {
  return manager.query(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE id = ANY ($1::uuid[])`, [ids]);
}

export async function insertEndpoint(manager: EntityManager, e: EndpointRow): Promise<void> {
  await manager.query(
    `INSERT INTO webhook_endpoint (id, tenant_id, url, event_types, secret, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, true, $6, $6)`,
    [e.id, e.tenantId, e.url, e.eventTypes, e.secret, e.createdAt],
  );
}

export async function updateEndpoint(
  manager: EntityManager,
  id: string,
  change: Partial<Pick<EndpointRow, "secret" | "previousSecret" | "previousSecretUntil" | "enabled" | "disabledReason" | "failingSince">>,
  now: Date,
): Promise<void> {
  const columns: Record<string, string> = {
    secret: "secret",
    previousSecret: "previous_secret",
    previousSecretUntil: "previous_secret_until",
    enabled: "enabled",
    disabledReason: "disabled_reason",
    failingSince: "failing_since",
  };
  const entries = Object.entries(change);
  const sets = entries.map(([key], i) => `${columns[key]} = $${i + 3}`);
  await manager.query(`UPDATE webhook_endpoint SET updated_at = $2${sets.map((s) => `, ${s}`).join("")} WHERE id = $1`, [
    id,
    now,
    ...entries.map(([, value]) => value),
  ]);
}

/** Deletes the endpoint, its secrets and its deliveries (cascade). */
export async function deleteEndpoint(manager: EntityManager, id: string): Promise<boolean> {
  return (await countedChange(manager, `DELETE FROM webhook_endpoint WHERE id = $1 RETURNING 1`, [id])) > 0;
}

/** A disabled endpoint's PENDING deliveries fail: it gets nothing more until enabled and replayed. */
export async function failPendingOf(manager: EntityManager, endpointId: string, now: Date): Promise<void> {
  await manager.query(`UPDATE webhook_delivery SET status = 'FAILED', next_attempt_at = NULL, updated_at = $2 WHERE endpoint_id = $1 AND status = 'PENDING'`, [
    endpointId,
    now,
  ]);
}

// ------------------------------------------------------------------ deliveries

export interface AttemptLog {
  at: string;
  status: number | null;
  ms: number;
  error: string | null;
}

export interface DeliveryRow {
  id: string;
  tenantId: string | null;
  eventId: string;
  endpointId: string;
  status: "PENDING" | "SUCCEEDED" | "FAILED";
  scheduledAttempts: number;
  nextAttemptAt: Date | null;
  attempts: AttemptLog[];
  createdAt: Date;
}

const DELIVERY_COLUMNS = `id, tenant_id AS "tenantId", event_id AS "eventId", endpoint_id AS "endpointId", status,
  scheduled_attempts AS "scheduledAttempts", next_attempt_at AS "nextAttemptAt", attempts, created_at AS "createdAt"`;

export function deliveriesByIds(manager: EntityManager, ids: readonly string[]): Promise<DeliveryRow[]> {
  return manager.query(`SELECT ${DELIVERY_COLUMNS} FROM webhook_delivery WHERE id = ANY ($1::uuid[])`, [ids]);
}

/** One page of an endpoint's deliveries, oldest first, after a keyset position. */
export function deliveryPage(
  manager: EntityManager,
  endpointId: string,
  status: string | null,
  after: [Date, string] | null,
  limit: number,
): Promise<DeliveryRow[]> {
  return manager.query(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_delivery
      WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4::uuid))
      ORDER BY created_at, id LIMIT $5`,
    [endpointId, status, after?.[0] ?? null, after?.[1] ?? null, limit],
  );
}

export async function countDeliveries(manager: EntityManager, endpointId: string, status: string | null): Promise<number> {
  const [row] = await manager.query(`SELECT count(*)::int AS n FROM webhook_delivery WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2)`, [
    endpointId,
    status,
  ]);
  return row.n;
}

/** A replay: the same delivery, due at once, with a schedule of its own. */
export async function replayDelivery(manager: EntityManager, id: string, now: Date): Promise<void> {
  await manager.query(
    `UPDATE webhook_delivery SET status = 'PENDING', scheduled_attempts = 0, next_attempt_at = $2, lease_until = NULL, updated_at = $2 WHERE id = $1`,
    [id, now],
  );
}

/**
 * Hands out due deliveries: up to `limit` PENDING ones whose next attempt time has come on the
 * service clock (`now`) and that no worker holds, each leased until `leaseUntil` (wall clock).
 * SKIP LOCKED: two dispatchers never hand out the same delivery.
 */
export async function leaseDue(manager: EntityManager, now: Date, leaseUntil: Date, limit: number): Promise<string[]> {
  const rows = await changedRows<{ id: string }>(
    manager,
    `UPDATE webhook_delivery d SET lease_until = $2
      WHERE d.id IN (SELECT id FROM webhook_delivery
                      WHERE status = 'PENDING' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < clock_timestamp())
                      ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
      RETURNING d.id`,
    [now, leaseUntil, limit],
  );
  return rows.map((r) => r.id);
}

/** What an attempt needs: the delivery (held for this attempt), its event and its endpoint. */
export interface AttemptJob {
  delivery: DeliveryRow;
  event: EventRow;
  endpoint: EndpointRow;
}

/** The delivery, its event and endpoint, if it is still PENDING and leased (a finished or replaced one is left alone). */
export async function attemptJob(manager: EntityManager, deliveryId: string): Promise<AttemptJob | null> {
  const [delivery]: DeliveryRow[] = await manager.query(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_delivery WHERE id = $1 AND status = 'PENDING' AND lease_until >= clock_timestamp()`,
    [deliveryId],
  );
  if (!delivery) return null;
  const [[event], endpoint] = await Promise.all([eventsByIds(manager, [delivery.eventId]), endpointById(manager, delivery.endpointId)]);
  return event && endpoint ? { delivery, event, endpoint } : null;
}

/** Records an attempt's outcome and the delivery's next step; the lease ends. */
export async function recordAttempt(
  manager: EntityManager,
  id: string,
  attempt: AttemptLog,
  next: { status: "PENDING" | "SUCCEEDED" | "FAILED"; nextAttemptAt: Date | null },
  now: Date,
): Promise<void> {
  await manager.query(
    `UPDATE webhook_delivery SET attempts = attempts || $2::jsonb, scheduled_attempts = scheduled_attempts + 1, status = $3,
            next_attempt_at = $4, lease_until = NULL, updated_at = $5
      WHERE id = $1`,
    [id, JSON.stringify([attempt]), next.status, next.nextAttemptAt, now],
  );
}

/** Pending deliveries (queue depth), for the metrics. */
export async function pendingCount(manager: EntityManager): Promise<number> {
  const [row] = await manager.query(`SELECT count(*)::int AS n FROM webhook_delivery WHERE status = 'PENDING'`);
  return row.n;
}
