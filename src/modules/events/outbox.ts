import { randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import { onControl, onTenant, type RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import type { EventType } from "./event-type";
import { insertEvents, type EventRow } from "./events.store";

/** Events (with their deliveries' logs) are kept this long (DOMAIN rule 34). */
export const EVENT_RETENTION_MS = 30 * 24 * 3_600_000;

/** A thin payload: ids, states, counts and times; never a personal-data value, a name or free text. */
export type EventData = Record<string, string | number | boolean | null | readonly string[]>;

/**
 * The outbox (DOMAIN rule 28): records that `type` happened, in the running mutation's
 * transaction on the owner's database (the tenant's region; control for operator events), so
 * the event commits with the change or not at all. Returns the event's id.
 */
export async function emit(ctx: RequestContext, tenantId: string | null, type: EventType, data: EventData, id: string = randomUUID()): Promise<string> {
  const on = tenantId ? await onTenant(ctx, tenantId) : await onControl(ctx);
  await insertEvents(em(on), [{ id, tenantId, type, occurredAt: ctx.clock.now(), data }]);
  return id;
}

/** The same, for work outside a request (retention, the maintenance run): in `manager`'s transaction. */
export function emitOn(manager: EntityManager, events: ReadonlyArray<Omit<EventRow, "id"> & { id?: string }>): Promise<void> {
  return insertEvents(
    manager,
    events.map((e) => ({ ...e, id: e.id ?? randomUUID() })),
  );
}
