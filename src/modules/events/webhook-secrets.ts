import type { DataSource } from "typeorm";
import type { KeyRing } from "../keys/key-ring";
import { IntegrityError } from "../keys/envelope";
import { loggableError, type Logger } from "../../shared/logging";
import type { Database } from "../../shared/db/topology";
import { secretsToSeal, storeSealedSecrets, type SealedSecret, type StoredSecret } from "./webhooks.store";

/**
 * Webhook signing secrets at rest: sealed under the master key (KeyRing.sealSecret), bound to
 * their endpoint. Whoever holds a copy of a database (a dump, a backup) without the master key
 * cannot sign events as Custodian to the tenants' receivers. A secret is handed around in the
 * form it is shown in, base64 of its 32 bytes.
 */

/** Seals `secret` (base64) for endpoint `endpointId`. */
export function sealSecret(keys: KeyRing, endpointId: string, secret: string): Promise<SealedSecret> {
  return keys.sealSecret("webhook-secret", [endpointId], Buffer.from(secret, "base64"));
}

/** The secret in base64, null where the row holds none; rejects when a sealed one does not open (tampered, moved, or its master key version not configured). */
export async function openSecret(keys: KeyRing, endpointId: string, stored: StoredSecret): Promise<string | null> {
  if (stored.plain !== null) return stored.plain;
  if (stored.sealed === null || stored.masterVersion === null) return null;
  return (await keys.openSecret("webhook-secret", [endpointId], stored.sealed, stored.masterVersion)).toString("base64");
}

/**
 * Seals the secrets of `db`'s endpoints that are plaintext (from before secrets were sealed) or
 * sealed under an older master key (after a new MASTER_KEY, the old one in MASTER_KEY_PREVIOUS),
 * in batches, each a transaction holding its rows. An endpoint whose current secret does not open
 * is left as it is and named in `unreadable` (its deliveries are not sent until it is rotated); a
 * previous secret that fails authentication is dropped.
 */
export async function sealSecretsIn(db: DataSource, keys: KeyRing, batchSize = 100): Promise<{ sealed: number; unreadable: string[] }> {
  let sealed = 0;
  const unreadable: string[] = [];
  let after: string | null = null;
  for (;;) {
    const held = await db.transaction(async (m) => {
      const rows = await secretsToSeal(m, keys.masterVersion, after, batchSize);
      const resealed = [];
      for (const row of rows) {
        const reseal = async (stored: StoredSecret): Promise<SealedSecret | null> => {
          if (stored.plain === null && stored.sealed && stored.masterVersion === keys.masterVersion)
            return { sealed: stored.sealed, masterVersion: stored.masterVersion };
          const secret = await openSecret(keys, row.id, stored);
          return secret === null ? null : sealSecret(keys, row.id, secret);
        };
        try {
          const secret = await reseal(row.secret);
          if (!secret) throw new Error("a webhook endpoint without a secret");
          // A previous secret that fails authentication can never sign again: it is dropped.
          const previous = await reseal(row.previous).catch((error: unknown) => {
            if (error instanceof IntegrityError) return null;
            throw error;
          });
          resealed.push({ id: row.id, secret, previous });
        } catch {
          unreadable.push(row.id);
        }
      }
      await storeSealedSecrets(m, resealed);
      sealed += resealed.length;
      return rows;
    });
    if (held.length < batchSize) return { sealed, unreadable };
    after = held[held.length - 1].id;
  }
}

/**
 * sealSecretsIn over every open database (control holds the operators' endpoints), by database;
 * a database that fails, or an endpoint whose secret does not open, is logged (ids only).
 */
export async function sealWebhookSecrets(databases: readonly Database[], keys: KeyRing, log: Logger): Promise<Record<string, number>> {
  const sealed: Record<string, number> = {};
  for (const db of databases) {
    try {
      const done = await sealSecretsIn(db.maintenance, keys);
      sealed[db.name] = done.sealed;
      if (done.unreadable.length) {
        log.error(
          { database: db.name, endpoints: done.unreadable },
          "webhook endpoints' signing secrets do not open (tampered with, or sealed under a master key version not configured): rotate them",
        );
      }
    } catch (error) {
      log.error({ database: db.name, error: loggableError(error) }, "sealing webhook signing secrets failed in a database: the next start resumes it");
    }
  }
  return sealed;
}
