import type { EntityManager } from "typeorm";

/** First keys of the fair locks, one per kind of object (the second key is the object id's hash). */
export const FAIR_LOCK_CLASS = { tenant: 0x43540001, agreement: 0x43540002 } as const;

/**
 * Queues for an object in PostgreSQL's lock manager before its row is locked: there a waiting
 * exclusive request makes the shared requests that come after it wait their turn, where row locks
 * let every new FOR SHARE through while a FOR UPDATE waits, for as long as sharers overlap (a
 * revocation waited 8 s behind four share loops, an end of subscription 9 s behind batch writes).
 * `update` waits only for the sharers already in; held to the end of the transaction.
 */
export async function queueFairly(manager: EntityManager, lockClass: number, id: string, mode: "share" | "update"): Promise<void> {
  const lock = mode === "update" ? "pg_advisory_xact_lock" : "pg_advisory_xact_lock_shared";
  await manager.query(`SELECT ${lock}($1, hashtext($2))`, [lockClass, id.toLowerCase()]);
}
