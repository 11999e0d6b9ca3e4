import { createHash } from "node:crypto";
import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import { DomainError, ErrorCode } from "../../shared/errors";

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
    const now = ctx.clock.now();
    const claimed: unknown[] = await em(ctx).query(
      `INSERT INTO idempotency_key (tenant_id, key, operation, request_hash, result_ids, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (tenant_id, key) DO UPDATE
         SET operation = EXCLUDED.operation, request_hash = EXCLUDED.request_hash, result_ids = EXCLUDED.result_ids,
             created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
         WHERE idempotency_key.expires_at <= EXCLUDED.created_at
       RETURNING 1`,
      [tenantId, key, operation, hash, resultIds, now, new Date(now.getTime() + IDEMPOTENCY_TTL_MS)],
    );
    if (claimed.length === 1) return null;
    const [first]: Array<{ operation: string; request_hash: string; result_ids: string[] }> = await em(ctx).query(
      `SELECT operation, request_hash, result_ids FROM idempotency_key WHERE tenant_id = $1 AND key = $2`,
      [tenantId, key],
    );
    if (first.operation !== operation || first.request_hash !== hash) {
      throw new DomainError(
        ErrorCode.IDEMPOTENCY_CONFLICT,
        "This idempotency key was used with a different request in the last 24 hours; use a new key for a new request.",
        { field: "idempotencyKey" },
      );
    }
    return first.result_ids;
  }
}
