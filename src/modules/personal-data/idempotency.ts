import { createHash } from "node:crypto";
import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import { blindIndex } from "../keys/envelope";
import type { KeyRing } from "../keys/key-ring";
import { keystoreOf } from "../keys/keystore-of";
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
 * An idempotency key as stored: its keyed blind index (HMAC under the tenant's index key), never
 * the text a client chose, which may name a person. Separated from the external ids' index, so
 * equal strings in the two do not index equally.
 */
export function storedIdempotencyKey(indexKey: Buffer, key: string): string {
  return `b1:${blindIndex(indexKey, `idempotency-key\n${key}`)}`;
}

/** A request's hash as stored: keyed too, so a guessed payload cannot be confirmed against it. */
export function storedRequestHash(indexKey: Buffer, hash: string): string {
  return `h1:${blindIndex(indexKey, `request\n${hash}`)}`;
}

/** Whether a stored hash is this request's: keyed, or (a key claimed before keys were blind) the plain hash. */
export function sameRequest(stored: string, keyed: string, plain: string): boolean {
  return stored.startsWith("h1:") ? stored === keyed : stored === plain;
}

/**
 * Idempotency keys, scoped to the tenant. `claim` runs in the write's own
 * transaction, before the write: the first request inserts the key with the ids it is about to
 * create; a concurrent second request waits on that row and, once the first commits, replays
 * its result; if the first rolls back, the key is free and the second writes. Keys and hashes are
 * stored as keyed blind indexes (the sealing of existing data converts those of before).
 */
export class IdempotencyKeys {
  constructor(private readonly keyRing: KeyRing) {}

  /** The first result's ids when this is a replay, else null (the key is now this request's). */
  async claim(ctx: RequestContext, tenantId: string, key: string, operation: string, hash: string, resultIds: string[]): Promise<string[] | null> {
    const indexKey = await this.keyRing.indexKey(keystoreOf(ctx), tenantId, ctx.clock.now());
    const stored = { tenantId, key: storedIdempotencyKey(indexKey, key), operation, hash: storedRequestHash(indexKey, hash), resultIds };
    if (await claimIdempotencyKey(em(ctx), stored, ctx.clock.now(), IDEMPOTENCY_TTL_MS)) return null;
    const first = await idempotencyKeyHeld(em(ctx), tenantId, stored.key);
    if (first.operation !== operation || !sameRequest(first.hash, stored.hash, hash)) {
      throw RecordErrors.idempotencyConflict();
    }
    return first.resultIds;
  }
}
