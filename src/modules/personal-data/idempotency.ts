import { createHash } from "node:crypto";
import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import { claimIdempotencyKey, idempotencyKeyHeld } from "./personal-data.store";
import { RecordErrors } from "./personal-data.errors";

/** Keys are kept at least this long; a key older than this is free again. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

/** JSON with object keys sorted at every level, so equal payloads serialize equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.keys(value as object)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** What the key remembers of a payload: its operation and a hash, never the payload itself. */
export function requestHash(operation: string, payload: unknown): string {
  return createHash("sha256").update(operation).update("\n").update(canonicalJson(payload)).digest("hex");
}

/**
 * Idempotency keys, scoped to the tenant. `claim` runs in the write's own
 * transaction, before the write: the first request inserts the key with the ids it is about to
 * create; a concurrent second request waits on that row and, once the first commits, replays
 * its result; if the first rolls back, the key is free and the second writes.
 */
export class IdempotencyKeys {
  /** The first result's ids when this is a replay, else null (the key is now this request's). */
  async claim(ctx: RequestContext, tenantId: string, key: string, operation: string, hash: string, resultIds: string[]): Promise<string[] | null> {
    if (await claimIdempotencyKey(em(ctx), { tenantId, key, operation, hash, resultIds }, ctx.clock.now(), IDEMPOTENCY_TTL_MS)) return null;
    const first = await idempotencyKeyHeld(em(ctx), tenantId, key);
    if (first.operation !== operation || first.hash !== hash) {
      throw RecordErrors.idempotencyConflict();
    }
    return first.resultIds;
  }
}
