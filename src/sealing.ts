import type { DataSource, EntityManager } from "typeorm";
import type { Database, Topology } from "./shared/db/topology";
import { inMaintenance } from "./shared/db/session";
import type { KeyRing } from "./modules/keys/key-ring";
import { SealedValues } from "./modules/personal-data/sealed-values";
import { SealedIdentities } from "./modules/data-subject/sealed-identity";
import {
  plaintextIdempotencyKeyCount,
  plaintextIdempotencyKeysHeld,
  plaintextValueCount,
  plaintextValuesHeld,
  storeBlindIdempotencyKeys,
  storeSealedValues,
} from "./modules/personal-data/personal-data.store";
import { storedIdempotencyKey } from "./modules/personal-data/idempotency";
import { plaintextIdentitiesHeld, plaintextIdentityCount, storeSealedIdentities, subjectsHeldForWrite } from "./modules/data-subject/data-subject.store";
import { SealedReasons, type ReasonField, type ReasonToSeal } from "./modules/subject-request/sealed-reasons";
import { plaintextReasonCount, plaintextReasonsHeld, storeSealedReasons } from "./modules/subject-request/subject-request.store";
import { loggableError, type Logger } from "./shared/logging";
import { analyzeKeys, analyzeKeysIfNever } from "./modules/keys/keystore.store";

export interface SealingRun {
  /** Record values, subjects and subject requests' reasons sealed, and idempotency keys made blind, by this run, by location. */
  sealed: Record<string, { values: number; subjects: number; idempotencyKeys: number; requestReasons: number }>;
  /** Plaintext left after the run, by location (0 everywhere when it is done). */
  plaintextLeft: Record<string, number>;
}

/**
 * Seals personal data written before sealing existed, online: each batch is a transaction of its
 * own that holds its rows (FOR UPDATE SKIP LOCKED: requests wait only on those rows, two runs take
 * different ones), makes their keys in the key store, and replaces the plaintext. Resumable: a run
 * that stops leaves the rest for the next, and a batch that dies leaves keys that seal nothing.
 * Runs at start in the background, or by hand (`npm run seal`) for large databases.
 */
export async function sealExisting(
  topology: Topology,
  keys: KeyRing,
  now: () => Date,
  options: { batchSize?: number; log?: Logger; signal?: AbortSignal } = {},
): Promise<SealingRun> {
  const run: SealingRun = { sealed: {}, plaintextLeft: {} };
  for (const { name, outcome } of await topology.each(async (database) =>
    database.keystore ? sealRegion(database, keys, now, options.batchSize ?? 500, options.signal) : null,
  )) {
    if (outcome.status === "rejected") {
      options.log?.error(
        { location: name, error: loggableError(outcome.reason) },
        "sealing existing personal data failed in a region: the next run resumes it",
      );
      continue;
    }
    if (!outcome.value) continue;
    run.sealed[name] = outcome.value.sealed;
    run.plaintextLeft[name] = outcome.value.left;
  }
  return run;
}

async function sealRegion(region: Database, keys: KeyRing, now: () => Date, batchSize: number, signal?: AbortSignal) {
  const keystore = region.keystore!;
  // A key store without statistics makes every cold read join all its keys (analyzeKeys).
  await analyzeKeysIfNever(keystore);
  const values = new SealedValues(keys);
  const identities = new SealedIdentities(keys);
  const reasons = new SealedReasons(keys);
  // Batch after batch, each a transaction holding its rows, until one comes back short or the run is stopped; how many rows.
  const inBatches = async (batch: (m: EntityManager) => Promise<number>): Promise<number> => {
    let total = 0;
    for (;;) {
      const n = await inMaintenance(region.maintenance, batch);
      total += n;
      if (n < batchSize || signal?.aborted) return total;
    }
  };
  // Subjects first: their keys are made here, and the values' keys are wrapped by them.
  const subjects = await inBatches(async (m) => {
    const rows = await plaintextIdentitiesHeld(m, batchSize);
    const sealed = await identities.sealAll(
      keystore,
      rows.map((row) => ({ tenantId: row.tenant_id, id: row.id, externalId: row.external_id, displayName: row.display_name })),
      now(),
    );
    await storeSealedIdentities(
      m,
      rows.map((row, i) => ({ id: row.id, ...sealed[i] })),
    );
    return rows.length;
  });
  const sealedValues = await inBatches(async (m) => {
    const rows = await plaintextValuesHeld(m, batchSize);
    // Under the key of the record's current version: a later correction makes the next one.
    const refs = rows.map((r) => ({ tenantId: r.tenant_id, subjectId: r.data_subject_id, recordId: r.id, version: r.version, value: r.value }));
    const ciphertexts = await values.seal(keystore, refs, now());
    await storeSealedValues(
      m,
      rows.map((r, i) => ({ id: r.id, sealed: ciphertexts[i], keyVersion: r.version })),
    );
    return rows.length;
  });
  // Idempotency keys as their blind index (their request hashes stay as they are: a replay compares either form).
  const idempotencyKeys = await inBatches(async (m) => {
    const rows = await plaintextIdempotencyKeysHeld(m, batchSize);
    const blind = [];
    for (const row of rows) {
      const indexKey = await keys.indexKey(keystore, row.tenant_id, now());
      blind.push({ tenantId: row.tenant_id, key: row.key, blind: storedIdempotencyKey(indexKey, row.key) });
    }
    await storeBlindIdempotencyKeys(m, blind);
    return rows.length;
  });
  // Requests' reasons under their subjects' keys; a purged subject's are dropped (nothing of it is kept).
  const requestReasons = await inBatches((m) => sealReasonsBatch(m, batchSize, keystore, keys, reasons, now()));
  const sealed = { values: sealedValues, subjects, idempotencyKeys, requestReasons };
  // A run may have written most of the key store's rows: without statistics, cold reads join them all.
  if (subjects || sealedValues) await analyzeKeys(keystore);
  const left = await inMaintenance(
    region.maintenance,
    async (m) => (await plaintextValueCount(m)) + (await plaintextIdentityCount(m)) + (await plaintextIdempotencyKeyCount(m)) + (await plaintextReasonCount(m)),
  );
  return { sealed, left };
}

/** One batch of requests whose reasons are still plaintext, held: sealed, or dropped where the subject is purged. */
async function sealReasonsBatch(m: EntityManager, batchSize: number, keystore: DataSource, keys: KeyRing, reasons: SealedReasons, now: Date): Promise<number> {
  const rows = await plaintextReasonsHeld(m, batchSize);
  const kept = new Set<string>();
  const keyed = new Set<string>();
  for (const tenantId of new Set(rows.map((r) => r.tenant_id))) {
    const held = await subjectsHeldForWrite(
      m,
      tenantId,
      rows.filter((r) => r.tenant_id === tenantId).map((r) => r.data_subject_id),
    );
    for (const subject of held) {
      kept.add(subject.id);
      if (subject.sealed) keyed.add(subject.id);
    }
  }
  // A sealed subject without its key was purged (a restored backup's row, until its retention
  // run deletes it): its reasons are dropped as a purged subject's are.
  const withKeys = keyed.size ? await keys.shredder(keystore).keyed("subject", [...keyed]) : new Set<string>();
  for (const id of keyed) if (!withKeys.has(id)) kept.delete(id);
  const toSeal: ReasonToSeal[] = [];
  for (const r of rows) {
    if (!kept.has(r.data_subject_id)) continue;
    for (const [field, text] of [
      ["extensionReason", r.extension_reason],
      ["rejectionReason", r.rejection_reason],
    ] as Array<[ReasonField, string | null]>)
      if (text !== null) toSeal.push({ tenantId: r.tenant_id, dataSubjectId: r.data_subject_id, requestId: r.id, field, text });
  }
  const sealed = await reasons.seal(keystore, toSeal, now, keyed);
  const sealedOf = new Map(sealed.map((c, i) => [`${toSeal[i].requestId}:${toSeal[i].field}`, c]));
  await storeSealedReasons(
    m,
    rows.map((r) => ({
      id: r.id,
      extensionReasonSealed: sealedOf.get(`${r.id}:extensionReason`) ?? null,
      rejectionReasonSealed: sealedOf.get(`${r.id}:rejectionReason`) ?? null,
    })),
  );
  return rows.length;
}
