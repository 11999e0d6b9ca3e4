import { randomUUID } from "node:crypto";
import type { EntityManager, SelectQueryBuilder } from "typeorm";
import { returning, countedChange } from "../../shared/db/database";
import { byteaArray } from "../../shared/db/bytes";
import { WebhookDeliveryEntity, WebhookEndpointEntity } from "./events.entities";
import type { AttemptOutcome, DeliveryStatus } from "./webhook-policy";

/**
 * The statements over webhook endpoints and deliveries. Request statements run on the caller's
 * session (row-level security keeps a tenant to its own); the delivery worker's on a database's
 * maintenance pool.
 */

/** Endpoints of one owner (a tenant; null: the operators), oldest first. */
export function endpointsOf(manager: EntityManager, tenantId: string | null): Promise<WebhookEndpointEntity[]> {
  const query = manager.getRepository(WebhookEndpointEntity).createQueryBuilder("w");
  if (tenantId) query.where("w.tenant_id = :tenantId", { tenantId });
  else query.where("w.tenant_id IS NULL");
  return query.orderBy("w.created_at", "ASC").addOrderBy("w.id", "ASC").getMany();
}

export function endpointsById(manager: EntityManager, ids: readonly string[]): Promise<WebhookEndpointEntity[]> {
  if (!ids.length) return Promise.resolve([]);
  return manager.getRepository(WebhookEndpointEntity).createQueryBuilder("w").where("w.id IN (:...ids)", { ids }).getMany();
}

/**
 * Inserts an endpoint unless its owner has `max` already; false when it has. The owner's
 * endpoints are locked first, so two creations racing for the last place cannot both take it.
 */
export async function insertEndpointWithin(manager: EntityManager, endpoint: WebhookEndpointEntity, max: number): Promise<boolean> {
  await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('webhook_endpoint:' || coalesce($1::text, 'operators'), 0))`, [endpoint.tenantId]);
  const [{ n }]: Array<{ n: number }> = await manager.query(`SELECT count(*)::int AS n FROM webhook_endpoint WHERE tenant_id IS NOT DISTINCT FROM $1`, [
    endpoint.tenantId,
  ]);
  if (n >= max) return false;
  await manager.getRepository(WebhookEndpointEntity).insert(endpoint);
  return true;
}

/** A new secret, sealed; the current one keeps signing until `until` (a previous one is dropped). */
export async function rotateSecret(manager: EntityManager, id: string, secret: SealedSecret, until: Date, now: Date): Promise<boolean> {
  const rows = await returning(
    manager,
    `UPDATE webhook_endpoint
        SET previous_secret = secret, previous_secret_sealed = secret_sealed, previous_secret_master_version = secret_master_version,
            previous_secret_until = $4, secret = NULL, secret_sealed = $2, secret_master_version = $3, updated_at = $5
      WHERE id = $1 RETURNING id`,
    [id, secret.sealed, secret.masterVersion, until, now],
  );
  return rows.length > 0;
}

/** A secret as a row holds it: base64 from before secrets were sealed, or sealed under master key `masterVersion`. */
export interface StoredSecret {
  plain: string | null;
  sealed: Buffer | null;
  masterVersion: number | null;
}

export interface SealedSecret {
  sealed: Buffer;
  masterVersion: number;
}

/** An endpoint's secrets as its row holds them. */
export interface StoredSecrets {
  id: string;
  secret: StoredSecret;
  previous: StoredSecret;
}

/** An endpoint's secret columns as a statement selects them (secretColumns). */
interface SecretColumns {
  secret: string | null;
  secret_sealed: Buffer | null;
  secret_master_version: number | null;
  previous_secret: string | null;
  previous_secret_sealed: Buffer | null;
  previous_secret_master_version: number | null;
}

/** The select list of SecretColumns, of the endpoint table or alias `table`. */
const secretColumns = (table: string) =>
  ["secret", "secret_sealed", "secret_master_version", "previous_secret", "previous_secret_sealed", "previous_secret_master_version"]
    .map((column) => `${table}.${column}`)
    .join(", ");

/** A row with its secret columns as its current and previous StoredSecret. */
function withStoredSecrets<T extends SecretColumns>(row: T): Omit<T, keyof SecretColumns> & { secret: StoredSecret; previous: StoredSecret } {
  const { secret, secret_sealed, secret_master_version, previous_secret, previous_secret_sealed, previous_secret_master_version, ...rest } = row;
  return {
    ...rest,
    secret: { plain: secret, sealed: secret_sealed, masterVersion: secret_master_version },
    previous: { plain: previous_secret, sealed: previous_secret_sealed, masterVersion: previous_secret_master_version },
  };
}

/**
 * Up to `limit` endpoints after `afterId` (id order) with a secret in plaintext or sealed under
 * another master key version than `masterVersion`, locked until the caller's transaction ends (a
 * rotation waits for it).
 */
export async function secretsToSeal(manager: EntityManager, masterVersion: number, afterId: string | null, limit: number): Promise<StoredSecrets[]> {
  const rows: Array<{ id: string } & SecretColumns> = await manager.query(
    `SELECT id, ${secretColumns("webhook_endpoint")}
       FROM webhook_endpoint
      WHERE ($2::uuid IS NULL OR id > $2)
        AND (secret IS NOT NULL OR previous_secret IS NOT NULL OR secret_master_version <> $1 OR previous_secret_master_version <> $1)
      ORDER BY id LIMIT $3 FOR UPDATE`,
    [masterVersion, afterId, limit],
  );
  return rows.map(withStoredSecrets);
}

/** Stores endpoints' secrets sealed (no plaintext left in their rows). */
export async function storeSealedSecrets(
  manager: EntityManager,
  rows: ReadonlyArray<{ id: string; secret: SealedSecret; previous: SealedSecret | null }>,
): Promise<void> {
  if (!rows.length) return;
  await manager.query(
    `UPDATE webhook_endpoint w SET secret = NULL, secret_sealed = s.secret, secret_master_version = s.secret_version,
            previous_secret = NULL, previous_secret_sealed = s.previous, previous_secret_master_version = s.previous_version
       FROM unnest($1::uuid[], $2::bytea[], $3::int[], $4::bytea[], $5::int[]) AS s (id, secret, secret_version, previous, previous_version)
      WHERE w.id = s.id`,
    [
      rows.map((r) => r.id),
      byteaArray(rows.map((r) => r.secret.sealed)),
      rows.map((r) => r.secret.masterVersion),
      byteaArray(rows.map((r) => r.previous?.sealed ?? null)),
      rows.map((r) => r.previous?.masterVersion ?? null),
    ],
  );
}

/**
 * Drops endpoint `id`'s previous secret if it is still the sealed bytes `sealed` (one that failed
 * authentication: it can never sign again, and a rotation since has replaced it anyway).
 */
export async function dropPreviousSecret(manager: EntityManager, id: string, sealed: Buffer): Promise<void> {
  await manager.query(
    `UPDATE webhook_endpoint
        SET previous_secret_sealed = NULL, previous_secret_master_version = NULL, previous_secret_until = NULL
      WHERE id = $1 AND previous_secret_sealed = $2`,
    [id, sealed],
  );
}

/** A PENDING delivery failed without another attempt (its endpoint disabled): nothing due, no lease. */
const FAILED_UNATTEMPTED = "status = 'FAILED', next_attempt_at = NULL, lease_until = NULL, lease_token = NULL";

/** Disables an endpoint with a reason; its pending deliveries fail (a disabled endpoint gets nothing). */
export async function disableEndpoint(manager: EntityManager, id: string, reason: string, now: Date): Promise<void> {
  await manager.query(`UPDATE webhook_endpoint SET enabled = false, disabled_reason = $2, updated_at = $3 WHERE id = $1 AND enabled`, [id, reason, now]);
  await manager.query(
    `UPDATE webhook_delivery SET ${FAILED_UNATTEMPTED}, updated_at = $2
      WHERE endpoint_id = $1 AND status = 'PENDING'`,
    [id, now],
  );
}

export async function enableEndpoint(manager: EntityManager, id: string, now: Date): Promise<void> {
  await manager.query(`UPDATE webhook_endpoint SET enabled = true, disabled_reason = NULL, failing_since = NULL, updated_at = $2 WHERE id = $1`, [id, now]);
}

/** Deletes an endpoint, its secrets and (by cascade) its deliveries. */
export async function deleteEndpoint(manager: EntityManager, id: string): Promise<boolean> {
  return (await countedChange(manager, `DELETE FROM webhook_endpoint WHERE id = $1 RETURNING 1`, [id])) > 0;
}

/** An endpoint's deliveries, oldest first, optionally of one status (page it with keysetPage). */
export function deliveriesQuery(manager: EntityManager, endpointId: string, status: DeliveryStatus | null): SelectQueryBuilder<WebhookDeliveryEntity> {
  const query = manager.getRepository(WebhookDeliveryEntity).createQueryBuilder("d").where("d.endpoint_id = :endpointId", { endpointId });
  if (status) query.andWhere("d.status = :status", { status });
  return query;
}

export function deliveriesById(manager: EntityManager, ids: readonly string[]): Promise<WebhookDeliveryEntity[]> {
  if (!ids.length) return Promise.resolve([]);
  return manager.getRepository(WebhookDeliveryEntity).createQueryBuilder("d").where("d.id IN (:...ids)", { ids }).getMany();
}

/** A new schedule for the delivery, due at once (a replay); attempts already logged stay. */
export async function replayDelivery(manager: EntityManager, id: string, now: Date): Promise<void> {
  await manager.query(`UPDATE webhook_delivery SET status = 'PENDING', scheduled_attempts = 0, next_attempt_at = $2, updated_at = $2 WHERE id = $1`, [id, now]);
}

// ---------------------------------------------------------------- the delivery worker's statements

/**
 * Leases up to `limit` deliveries due at `now` (service clock) that no one holds, for `leaseMs`
 * of wall-clock time (a dead instance's lease runs out), under one new token. SKIP LOCKED:
 * instances claiming side by side take different rows.
 */
export async function claimDue(
  manager: EntityManager,
  now: Date,
  limit: number,
  leaseMs: number,
): Promise<{ token: string; deliveries: Array<{ id: string; endpointId: string }> }> {
  const token = randomUUID();
  const deliveries = await returning<{ id: string; endpointId: string }>(
    manager,
    `UPDATE webhook_delivery d SET lease_until = clock_timestamp() + make_interval(secs => $3::float8 / 1000), lease_token = $4
      WHERE d.id IN (SELECT id FROM webhook_delivery
                      WHERE status = 'PENDING' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < clock_timestamp())
                      ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING d.id, d.endpoint_id AS "endpointId"`,
    [now, limit, leaseMs, token],
  );
  return { token, deliveries };
}

/** A leased delivery with what its attempt needs. */
export interface LeasedDelivery {
  id: string;
  scheduledAttempts: number;
  endpointId: string;
  url: string;
  /** The endpoint's secrets as its row holds them (as secretsToSeal gives them). */
  secret: StoredSecret;
  previousSecret: StoredSecret;
  previousSecretUntil: Date | null;
  enabled: boolean;
  failingSince: Date | null;
  eventId: string;
  tenantId: string | null;
  type: string;
  occurredAt: Date;
  data: Record<string, unknown>;
}

/** Those of `ids` still PENDING and leased under `token` with at least `marginMs` of the lease left. */
export async function leasedDeliveries(manager: EntityManager, ids: readonly string[], token: string, marginMs: number): Promise<LeasedDelivery[]> {
  const rows: Array<Omit<LeasedDelivery, "secret" | "previousSecret"> & SecretColumns> = await manager.query(
    `SELECT d.id, d.scheduled_attempts AS "scheduledAttempts", w.id AS "endpointId", w.url, ${secretColumns("w")},
            w.previous_secret_until AS "previousSecretUntil", w.enabled, w.failing_since AS "failingSince",
            e.id AS "eventId", e.tenant_id AS "tenantId", e.type, e.occurred_at AS "occurredAt", e.data
       FROM webhook_delivery d JOIN webhook_endpoint w ON w.id = d.endpoint_id JOIN event e ON e.id = d.event_id
      WHERE d.id = ANY ($1::uuid[]) AND d.lease_token = $2 AND d.status = 'PENDING'
        AND d.lease_until > clock_timestamp() + make_interval(secs => $3::float8 / 1000)`,
    [ids, token, marginMs],
  );
  return rows.map((row) => {
    const { previous, ...delivery } = withStoredSecrets(row);
    return { ...delivery, previousSecret: previous };
  });
}

/**
 * Fails, unattempted, those of `ids` still leased under `token` whose endpoint is disabled: as
 * disabling fails the deliveries it sees, for one whose event committed after it. Left PENDING,
 * each would be leased again whenever its lease ran out. One whose endpoint was enabled again
 * meanwhile stays PENDING (its lease runs out, and the next dispatch hands it out).
 */
export async function failLeasedToDisabled(manager: EntityManager, ids: readonly string[], token: string, now: Date): Promise<void> {
  await manager.query(
    `UPDATE webhook_delivery d SET ${FAILED_UNATTEMPTED}, updated_at = $3
       FROM webhook_endpoint w
      WHERE d.id = ANY ($1::uuid[]) AND d.lease_token = $2 AND d.status = 'PENDING' AND w.id = d.endpoint_id AND NOT w.enabled`,
    [ids, token, now],
  );
}

/** One attempt's result, to be recorded. */
export interface AttemptRecord {
  id: string;
  outcome: AttemptOutcome;
  status: DeliveryStatus;
  nextAttemptAt: Date | null;
}

/**
 * Logs attempts made at `at` and sets where each delivery stands, releasing its lease; only
 * those still leased under `token` (a lease taken over is someone else's now). Each endpoint
 * reached gets its failing streak (ended by a success, started by the first failure). Returns
 * the ids recorded. One statement: a crash records all or none (and the leases run out).
 */
export async function recordAttempts(
  manager: EntityManager,
  token: string,
  at: Date,
  attempts: readonly AttemptRecord[],
  endpoints: ReadonlyArray<{ endpointId: string; succeeded: boolean }>,
): Promise<string[]> {
  if (!attempts.length) return [];
  const logged = attempts.map(({ outcome }) => JSON.stringify({ at: at.toISOString(), status: outcome.status, ms: outcome.durationMs, error: outcome.error }));
  const rows: Array<{ id: string }> = await manager.query(
    `WITH a AS (SELECT * FROM unnest($1::uuid[], $2::jsonb[], $3::text[], $4::timestamptz[]) AS a(id, logged, status, next_attempt_at)),
     d AS (
       UPDATE webhook_delivery d SET attempts = d.attempts || jsonb_build_array(a.logged), scheduled_attempts = d.scheduled_attempts + 1,
              status = a.status, next_attempt_at = a.next_attempt_at, lease_until = NULL, lease_token = NULL, updated_at = $6
         FROM a WHERE d.id = a.id AND d.lease_token = $5 RETURNING d.id, d.endpoint_id),
     s AS (SELECT * FROM unnest($7::uuid[], $8::boolean[]) AS s(endpoint_id, succeeded)),
     e AS (
       UPDATE webhook_endpoint w SET failing_since = CASE WHEN s.succeeded THEN NULL ELSE $6 END
         FROM s WHERE w.id = s.endpoint_id AND w.id IN (SELECT endpoint_id FROM d) AND (w.failing_since IS NULL) <> s.succeeded)
     SELECT id FROM d`,
    [
      attempts.map((a) => a.id),
      logged,
      attempts.map((a) => a.status),
      attempts.map((a) => a.nextAttemptAt),
      token,
      at,
      endpoints.map((e) => e.endpointId),
      endpoints.map((e) => e.succeeded),
    ],
  );
  return rows.map((r) => r.id);
}

/** Deliveries waiting (due or not) and those due now: the queue's depth for the metrics. */
export async function deliveryBacklog(manager: EntityManager, now: Date): Promise<{ pending: number; due: number; disabledEndpoints: number }> {
  const [row]: Array<{ pending: number; due: number; disabled: number }> = await manager.query(
    `SELECT (SELECT count(*)::int FROM webhook_delivery WHERE status = 'PENDING') AS pending,
            (SELECT count(*)::int FROM webhook_delivery WHERE status = 'PENDING' AND next_attempt_at <= $1) AS due,
            (SELECT count(*)::int FROM webhook_endpoint WHERE NOT enabled) AS disabled`,
    [now],
  );
  return { pending: row.pending, due: row.due, disabledEndpoints: row.disabled };
}
