import type { DataSource, EntityManager } from "typeorm";
import { PG_FOREIGN_KEY_VIOLATION, pgErrorCode } from "../../shared/db/database";
import { DomainError, ErrorCode } from "../../shared/errors";
import { associatedData, IntegrityError, newKey, unwrapKey, wrapKey, type KeyProvider } from "./envelope";
import { KeyCache } from "./key-cache";
import {
  addRecordKeys,
  addRetiredRecordKeys,
  addSubjectKeys,
  addTenantKey,
  deleteRecordKeys,
  deleteSubjectKeys,
  deleteTenantKeys,
  newestTenantKey,
  dropRetiredKeks,
  kekStates,
  raiseShredEpoch,
  recordsWithKeys,
  retiredRecordKeys,
  shredEpoch,
  subjectsWithKeys,
  rewrapSubjectKeys,
  rewrapTenantKeys,
  subjectKeys,
  subjectKeysBelow,
  tenantKey,
  tenantKeysNotUnder,
  vacuumKeys,
  wrappedChains,
  wrappedSubjectChains,
  type RecordKeyName,
  type WrappedChain,
} from "./keystore.store";

/** Where a record value's key sits in the hierarchy, and which version of the value it seals. */
export interface RecordKeyRef {
  tenantId: string;
  subjectId: string;
  recordId: string;
  version: number;
}

/**
 * What the retention purge destroys in a region's key store (crypto-shredding). A batch deletes
 * its rows, destroys their keys (committed in the key store), and only
 * then commits: the rows stay held meanwhile, and a crash between the two commits rolls the
 * deletion back, leaving rows pending deletion without keys (they read as shredded, can no longer
 * be restored, and the next run deletes them), never a key whose rows are gone, which an old
 * backup's copy of the rows would open.
 */
export interface Shredder {
  records(recordIds: readonly string[]): Promise<void>;
  subjects(subjectIds: readonly string[]): Promise<void>;
  tenant(tenantId: string): Promise<void>;
  /**
   * The old keys of corrections whose process died before destroying them, given the key version
   * each record's value is sealed under now (a record missing from the map is gone). Returns how
   * many keys it destroyed.
   */
  retired(currentVersions: (recordIds: string[]) => Promise<Map<string, number | null>>): Promise<number>;
  /** How many times the purge has destroyed keys here (null: no key store, nothing is sealed). */
  epoch(): Promise<number | null>;
  /** Those of the records or subjects that still have their keys. */
  keyed(kind: "record" | "subject", ids: readonly string[]): Promise<Set<string>>;
}

/** A wrapped key failed authentication (tampered with, or another row's). */
export const TAMPERED = Symbol("a wrapped key failed authentication");

/**
 * The key hierarchy over a region's key store: master key (the provider) -> tenant KEK ->
 * subject key -> one data key per record value version. Keys are made on first need, stored only
 * wrapped, and unwrapped keys are cached per process with a bound on count and lifetime; a key
 * this process destroys leaves the cache at once (another instance's copy ages out within the
 * lifetime, and only ever opens rows the same destruction deleted).
 */
export class KeyRing {
  private readonly cache: KeyCache;

  constructor(
    private readonly provider: KeyProvider,
    options: { maxKeys?: number; ttlMs?: number; openedBytes?: number } = {},
  ) {
    // Room for a page of 100 values of each of 1,000 tenants, with their subjects' keys and KEKs;
    // what the record keys opened, up to 64 MB by default (a page of 100 values of ~200 bytes for each of 500 tenants).
    this.cache = new KeyCache({ max: options.maxKeys ?? 250_000, ttlMs: options.ttlMs ?? 5 * 60_000, attachedBytes: options.openedBytes ?? 64 << 20 });
  }

  /**
   * What this process opened with a record's key, kept beside the key while it is cached and gone
   * with it (destroyed, evicted, expired): a value read again is not opened again. Opening costs
   * more than the rest of a value's read, and the cached key opens it anyway. The caller checks
   * that what it holds is what was opened.
   */
  openedWith(ref: RecordKeyName): unknown {
    const kept = this.cache.attachment(ref.recordId) as { version: number; opened: unknown } | undefined;
    return kept?.version === ref.version ? kept.opened : undefined;
  }

  /** Keeps what `ref`'s key opened (about `bytes` in memory) while the key is cached, if there is room. */
  keepOpened(ref: RecordKeyName, opened: unknown, bytes: number): void {
    this.cache.attach(recordCacheKey(ref.recordId, ref.version), ref.recordId, { version: ref.version, opened }, bytes);
  }

  /**
   * New data keys for `refs` (a value written, or a new version of it), at once, and `stored`:
   * their storing, wrapped, in the key store, which must have committed before the caller's
   * transaction commits (a value is never stored without its key). A transaction that then rolls
   * back leaves keys that seal nothing. `keyedSubjects`: subjects that must have their key already
   * (their identity is sealed); DATA_SHREDDED when one has none.
   */
  createRecordKeys(
    keystore: DataSource,
    refs: readonly RecordKeyRef[],
    now: Date,
    options: { retireOlder?: boolean; keyedSubjects?: ReadonlySet<string> } = {},
  ): { keys: Buffer[]; stored: Promise<void> } {
    const keys = refs.map(() => newKey());
    if (!refs.length) return { keys, stored: Promise.resolve() };
    const stored = (async () => {
      const subjects = await this.subjectKeysFor(keystore, refs, now, options.keyedSubjects);
      const wrapped = refs.map((ref, i) => ({
        recordId: ref.recordId,
        version: ref.version,
        tenantId: ref.tenantId,
        subjectId: ref.subjectId,
        wrapped: wrapKey(subjects.get(ref.subjectId)!, keys[i], associatedData("record-key", [ref.tenantId, ref.subjectId, ref.recordId], ref.version)),
      }));
      if (!options.retireOlder) return addRecordKeys(keystore.manager, wrapped, now);
      // A correction: with its new key, the note that the older keys go once it commits (destroyRetiredKeys finishes what a dying process left).
      await keystore.transaction(async (m) => {
        await addRetiredRecordKeys(
          m,
          refs.map((ref) => ({ recordId: ref.recordId, belowVersion: ref.version })),
          now,
        );
        await addRecordKeys(m, wrapped, now);
      });
    })();
    // Not cached: an ingest of many records would push out the keys reads use.
    return { keys, stored };
  }

  /**
   * The data keys of `refs`, in order: null where the key (or one above it) is gone, which is
   * what a shredded value is; TAMPERED where a wrapped key failed authentication (that value's
   * failure alone).
   */
  async recordKeys(keystore: DataSource, refs: ReadonlyArray<Pick<RecordKeyRef, "recordId" | "version">>): Promise<Array<Buffer | null | typeof TAMPERED>> {
    // One cache lookup per key on the hot path (a page of cached keys makes no other).
    const found: Array<Buffer | null | typeof TAMPERED | undefined> = refs.map((ref) => this.cache.get(recordCacheKey(ref.recordId, ref.version)));
    const missing = refs.filter((_, i) => !found[i]);
    if (!missing.length) return found as Buffer[];
    const tampered = new Set<string>();
    for (const chain of await wrappedChains(keystore, missing)) {
      await this.unwrapChain(chain).catch((error: unknown) => {
        if (!(error instanceof IntegrityError)) throw error;
        tampered.add(recordCacheKey(chain.recordId, chain.version));
      });
    }
    return refs.map((ref, i) => {
      if (found[i]) return found[i];
      const cacheKey = recordCacheKey(ref.recordId, ref.version);
      return tampered.has(cacheKey) ? TAMPERED : (this.cache.get(cacheKey) ?? null);
    });
  }

  /**
   * The subjects' keys, made (under the tenant's KEK, made too when missing) for those that have
   * none yet: for sealing what identifies a subject at its registration, or is written to it.
   * `keyed`: subjects that must have their key already (their identity is sealed); DATA_SHREDDED
   * when one has none.
   */
  subjectKeys(
    keystore: DataSource,
    refs: ReadonlyArray<{ tenantId: string; subjectId: string }>,
    now: Date,
    keyed?: ReadonlySet<string>,
  ): Promise<Map<string, Buffer>> {
    return this.subjectKeysFor(keystore, refs, now, keyed);
  }

  /**
   * The keys of existing subjects, for opening what they seal: null where the key (or its KEK) is
   * gone (shredded), TAMPERED where a wrapped key fails authentication.
   */
  async openSubjectKeys(keystore: DataSource, subjectIds: readonly string[]): Promise<Map<string, Buffer | null | typeof TAMPERED>> {
    const found = new Map<string, Buffer | null | typeof TAMPERED>(subjectIds.map((id) => [id, this.cache.get(`s:${id}`) ?? null]));
    const missing = subjectIds.filter((id) => !found.get(id));
    for (const chain of await wrappedSubjectChains(keystore, missing)) {
      try {
        const kek = await this.kek(chain.tenantId, chain.kekVersion, chain.kek, chain.masterVersion);
        found.set(chain.subjectId, this.unwrapSubjectKey(kek, chain.tenantId, chain.subjectId, chain.kekVersion, chain.subject));
      } catch (error) {
        if (!(error instanceof IntegrityError)) throw error;
        found.set(chain.subjectId, TAMPERED);
      }
    }
    return found;
  }

  /** The tenant's blind-index key (HMAC), made when it has none; wrapped by the master key like its KEK. */
  async indexKey(keystore: DataSource, tenantId: string, now: Date): Promise<Buffer> {
    const cacheKey = `t:${tenantId}:INDEX`;
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;
    let row = await newestTenantKey(keystore.manager, tenantId, "INDEX");
    if (!row) {
      const wrapped = await this.provider.wrap(newKey(), associatedData("index-key", [tenantId, `m${this.provider.version}`], 1));
      row = await addTenantKey(keystore.manager, { tenantId, kind: "INDEX", version: 1, wrapped, masterVersion: this.provider.version }, now);
    }
    const key = await this.provider.unwrap(row.wrapped, associatedData("index-key", [tenantId, `m${row.masterVersion}`], row.version), row.masterVersion);
    this.cache.set(cacheKey, key);
    return key;
  }

  /** Shreds record values: every key of each record, or only the versions before `belowVersion` (a correction's old value). */
  async destroyRecordKeys(keystore: DataSource, recordIds: readonly string[], belowVersion?: number): Promise<void> {
    if (recordIds.length) await this.destroyCounted(keystore, recordIds, belowVersion);
  }

  /**
   * Finishes corrections whose process died between their commit and the destruction of the old
   * value's key: for each note, the keys below its version go once the record's row holds that
   * version (`currentVersions`: the key version each record's value is sealed under now; a record
   * missing from it is gone, and so are all its keys). A note whose row is still older is a
   * correction in flight or rolled back, and stays. Returns how many keys it destroyed.
   */
  async destroyRetiredKeys(
    keystore: DataSource,
    currentVersions: (recordIds: string[]) => Promise<Map<string, number | null>>,
    batchSize = 1000,
  ): Promise<number> {
    let destroyed = 0;
    let after: string | null = null;
    for (;;) {
      const notes = await retiredRecordKeys(keystore.manager, after, batchSize);
      if (!notes.length) break;
      after = notes[notes.length - 1].recordId;
      const current = await currentVersions(notes.map((n) => n.recordId));
      for (const note of notes) {
        const version = current.get(note.recordId);
        if (version === undefined) destroyed += await this.destroyCounted(keystore, [note.recordId]);
        else if (version !== null && version >= note.belowVersion) destroyed += await this.destroyCounted(keystore, [note.recordId], note.belowVersion);
      }
      if (notes.length < batchSize) break;
    }
    return destroyed;
  }

  /** A purge's destruction (every version) raises the shred count with it; a correction's (older versions only) is no purge. */
  private async destroyCounted(keystore: DataSource, recordIds: readonly string[], belowVersion?: number): Promise<number> {
    const destroyed =
      belowVersion === undefined
        ? await this.purgeKeys(
            keystore,
            (m) => deleteRecordKeys(m, recordIds),
            (keys) => keys.length,
          )
        : await deleteRecordKeys(keystore.manager, recordIds, belowVersion);
    this.uncache(destroyed);
    if (destroyed.length) this.vacuumSoon(keystore);
    return destroyed.length;
  }

  /**
   * A purge's destruction of keys, in one key store transaction that also raises the shred count
   * when it destroyed any (both commit, or neither: see RetentionService's catching up).
   */
  private purgeKeys<T>(keystore: DataSource, destroy: (m: EntityManager) => Promise<T>, count: (destroyed: T) => number): Promise<T> {
    return keystore.transaction(async (m) => {
      const destroyed = await destroy(m);
      if (count(destroyed)) await raiseShredEpoch(m);
      return destroyed;
    });
  }

  /** Shreds everything of the subjects: their keys and every record key under them. */
  async destroySubjectKeys(keystore: DataSource, subjectIds: readonly string[]): Promise<void> {
    if (!subjectIds.length) return;
    const destroyed = await this.purgeKeys(
      keystore,
      (m) => deleteSubjectKeys(m, subjectIds),
      (keys) => keys.records.length + keys.subjects.length,
    );
    this.uncache(destroyed.records);
    // A subject's cached key goes even when its row was already gone (destroyed by another instance).
    for (const id of subjectIds) this.cache.delete(`s:${id}`);
    if (destroyed.records.length || destroyed.subjects.length) this.vacuumSoon(keystore);
  }

  /** Shreds everything of a tenant: its KEK, its blind-index key and every key under them. */
  async destroyTenantKeys(keystore: DataSource, tenantId: string): Promise<void> {
    const deleted = await this.purgeKeys(
      keystore,
      (m) => deleteTenantKeys(m, tenantId),
      (n) => n,
    );
    if (!deleted) return;
    this.cache.clear();
    this.vacuumSoon(keystore);
  }

  /** What the retention purge destroys, in `keystore` (none: a database without personal data). */
  shredder(keystore: DataSource | null): Shredder {
    const none = async () => undefined;
    if (!keystore)
      return { records: none, subjects: none, tenant: none, retired: async () => 0, epoch: async () => null, keyed: async (_, ids) => new Set(ids) };
    return {
      records: (ids) => this.destroyRecordKeys(keystore, ids),
      subjects: (ids) => this.destroySubjectKeys(keystore, ids),
      tenant: (id) => this.destroyTenantKeys(keystore, id),
      retired: (currentVersions) => this.destroyRetiredKeys(keystore, currentVersions),
      epoch: () => shredEpoch(keystore.manager),
      keyed: (kind, ids) => (kind === "record" ? recordsWithKeys : subjectsWithKeys)(keystore.manager, ids),
    };
  }

  /**
   * Re-wraps every tenant key (KEKs, index keys) under the provider's current master key
   * version, batch by batch (each a transaction holding its rows): after a new MASTER_KEY, with
   * the old one in MASTER_KEY_PREVIOUS until this has run. Nothing below is re-encrypted; reads
   * go on throughout (a key is either wrapped under the old version, which still unwraps, or the
   * new). Resumable. Returns how many keys it re-wrapped.
   */
  async rewrapUnderMaster(keystore: DataSource, batchSize = 500): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await keystore.transaction(async (m) => {
        const held = await tenantKeysNotUnder(m, this.provider.version, batchSize);
        const rewrapped = [];
        for (const key of held) {
          const ids = key.kind === "KEK" ? [key.tenantId, "KEK"] : [key.tenantId];
          const kind = key.kind === "KEK" ? "tenant-key" : "index-key";
          const plain = await this.provider.unwrap(key.wrapped, associatedData(kind, [...ids, `m${key.masterVersion}`], key.version), key.masterVersion);
          const wrapped = await this.provider.wrap(plain, associatedData(kind, [...ids, `m${this.provider.version}`], key.version));
          rewrapped.push({ ...key, wrapped, masterVersion: this.provider.version });
        }
        await rewrapTenantKeys(m, rewrapped);
        return held.length;
      });
      total += n;
      if (n < batchSize) return total;
    }
  }

  /**
   * Rotates each tenant's KEK: a new version, under which every subject key is re-wrapped, batch
   * by batch, before the old version is destroyed. A tenant whose rotation was interrupted (some
   * subject keys still under an older version) is finished, not rotated again. Data and subject
   * keys are not re-encrypted; reads go on throughout. Returns the tenants rotated and the subject
   * keys re-wrapped.
   */
  async rotateKeks(keystore: DataSource, now: Date, batchSize = 500, signal?: AbortSignal): Promise<{ tenants: number; subjectKeys: number }> {
    const done = { tenants: 0, subjectKeys: 0 };
    for (const state of await kekStates(keystore)) {
      if (signal?.aborted) break;
      let newest = state.newest;
      if (!state.behind) {
        newest = state.newest + 1;
        const wrapped = await this.provider.wrap(newKey(), associatedData("tenant-key", [state.tenantId, "KEK", `m${this.provider.version}`], newest));
        newest = (
          await addTenantKey(keystore.manager, { tenantId: state.tenantId, kind: "KEK", version: newest, wrapped, masterVersion: this.provider.version }, now)
        ).version;
      }
      const kek = await this.kekByVersion(keystore, state.tenantId, newest);
      for (;;) {
        const n = await keystore.transaction(async (m) => {
          const held = await subjectKeysBelow(m, state.tenantId, newest, batchSize);
          const rewrapped = [];
          for (const key of held) {
            const old = await this.kekByVersion(keystore, state.tenantId, key.kekVersion);
            const subject = unwrapKey(old, key.wrapped, associatedData("subject-key", [state.tenantId, key.subjectId], key.kekVersion));
            rewrapped.push({
              subjectId: key.subjectId,
              wrapped: wrapKey(kek, subject, associatedData("subject-key", [state.tenantId, key.subjectId], newest)),
              kekVersion: newest,
            });
          }
          await rewrapSubjectKeys(m, rewrapped);
          return held.length;
        });
        done.subjectKeys += n;
        if (n < batchSize || signal?.aborted) break;
      }
      if (signal?.aborted) break;
      // A subject key written under an old version meanwhile keeps it: the next rotation re-wraps that key, then drops it.
      const dropped = await keystore
        .transaction((m) => dropRetiredKeks(m, state.tenantId, newest))
        .catch((error: unknown) => {
          if (pgErrorCode(error) === PG_FOREIGN_KEY_VIOLATION) return 0;
          throw error;
        });
      if (dropped > 0) this.vacuumSoon(keystore);
      done.tenants++;
    }
    return done;
  }

  /** The master key version new seals are made under. */
  get masterVersion(): number {
    return this.provider.version;
  }

  /**
   * Seals a 32-byte secret that belongs to no tenant's keys (a webhook endpoint's signing secret)
   * under the master key itself, as a tenant's KEK is: a copy of the database without the master
   * key cannot read it. `ids` bind it to its row.
   */
  async sealSecret(kind: "webhook-secret", ids: readonly string[], secret: Buffer): Promise<{ sealed: Buffer; masterVersion: number }> {
    const masterVersion = this.provider.version;
    return { sealed: await this.provider.wrap(secret, associatedData(kind, [...ids, `m${masterVersion}`], 1)), masterVersion };
  }

  /** What sealSecret sealed under master key `masterVersion`; rejects when it fails authentication or that version is not configured. */
  openSecret(kind: "webhook-secret", ids: readonly string[], sealed: Buffer, masterVersion: number): Promise<Buffer> {
    return this.provider.unwrap(sealed, associatedData(kind, [...ids, `m${masterVersion}`], 1), masterVersion);
  }

  /** A ring that refuses every key: for a schema that never runs a request (printing, checks). */
  static withoutMasterKey(): KeyRing {
    const refuse = () => Promise.reject(new Error("no master key is configured"));
    // It can unwrap nothing, so it caches nothing (a large cache costs its allocation at start).
    return new KeyRing({ version: 1, wrap: refuse, unwrap: refuse }, { maxKeys: 1, openedBytes: 0 });
  }

  /**
   * Vacuums the key store's tables right after keys are destroyed (a deleted row stays on its
   * page until vacuumed), without making the purge wait: one VACUUM at a time per key store (two
   * would queue on each other's lock, holding their callers), and one more after it when keys
   * were destroyed meanwhile. A VACUUM that fails is left to autovacuum.
   */
  private vacuumSoon(keystore: DataSource): void {
    const state = this.vacuums.get(keystore) ?? { running: null, again: false };
    this.vacuums.set(keystore, state);
    if (state.running) {
      state.again = true;
      return;
    }
    state.running = (async () => {
      do {
        state.again = false;
        if (!keystore.isInitialized) break;
        await vacuumKeys(keystore).catch(() => undefined);
      } while (state.again);
    })().finally(() => (state.running = null));
  }

  /** Waits for the key stores' pending vacuums (tests, and a stop that wants them done). */
  async vacuumed(): Promise<void> {
    await Promise.all([...this.vacuums.values()].flatMap((state) => (state.running ? [state.running] : [])));
  }

  private readonly vacuums = new Map<DataSource, { running: Promise<void> | null; again: boolean }>();

  /**
   * Drops exactly these record keys from the cache: going through all of it cost a full cache's
   * 250,000 names about 300 ms of the event loop, at every correction.
   */
  private uncache(keys: readonly RecordKeyName[]): void {
    for (const key of keys) this.cache.delete(recordCacheKey(key.recordId, key.version));
  }

  private async unwrapChain(chain: WrappedChain): Promise<void> {
    const kek = await this.kek(chain.tenantId, chain.kekVersion, chain.kek, chain.masterVersion);
    const subject = this.cache.get(`s:${chain.subjectId}`) ?? this.unwrapSubjectKey(kek, chain.tenantId, chain.subjectId, chain.kekVersion, chain.subject);
    const record = unwrapKey(subject, chain.record, associatedData("record-key", [chain.tenantId, chain.subjectId, chain.recordId], chain.version));
    this.cache.set(recordCacheKey(chain.recordId, chain.version), record);
  }

  /** A subject's key unwrapped by its tenant's KEK (of `kekVersion`), and cached. */
  private unwrapSubjectKey(kek: Buffer, tenantId: string, subjectId: string, kekVersion: number, wrapped: Buffer): Buffer {
    const key = unwrapKey(kek, wrapped, associatedData("subject-key", [tenantId, subjectId], kekVersion));
    this.cache.set(`s:${subjectId}`, key);
    return key;
  }

  private async kek(tenantId: string, version: number, wrapped: Buffer, masterVersion: number): Promise<Buffer> {
    const cacheKey = `t:${tenantId}:KEK:${version}`;
    let kek = this.cache.get(cacheKey);
    if (!kek) {
      kek = await this.provider.unwrap(wrapped, associatedData("tenant-key", [tenantId, "KEK", `m${masterVersion}`], version), masterVersion);
      this.cache.set(cacheKey, kek);
    }
    return kek;
  }

  /** The subjects' keys, made (under the tenant's KEK, made too when missing) for those that have none yet. */
  private async subjectKeysFor(
    keystore: DataSource,
    refs: ReadonlyArray<{ tenantId: string; subjectId: string }>,
    now: Date,
    keyed: ReadonlySet<string> = new Set(),
  ): Promise<Map<string, Buffer>> {
    const tenantOf = new Map(refs.map((ref) => [ref.subjectId, ref.tenantId]));
    const found = new Map<string, Buffer>();
    for (const id of tenantOf.keys()) {
      const cached = this.cache.get(`s:${id}`);
      if (cached) found.set(id, cached);
    }
    const unknown = [...tenantOf.keys()].filter((id) => !found.has(id));
    if (!unknown.length) return found;
    let stored = await subjectKeys(keystore.manager, unknown);
    // A subject whose identity is sealed had its key: without one, it was purged (a restored
    // backup's row). Nothing new is sealed under it, or it would hold data under a key of its own.
    if (unknown.some((id) => keyed.has(id) && !stored.has(id))) throw subjectShredded();
    const toMake = unknown.filter((id) => !stored.has(id));
    if (toMake.length) {
      await this.makeSubjectKeys(keystore, toMake, tenantOf, now);
      // Read back: another instance may have made one of them first, and its key is the one.
      stored = await subjectKeys(keystore.manager, unknown);
    }
    for (const [subjectId, row] of stored) {
      if (row.tenantId !== tenantOf.get(subjectId)) throw new Error("a subject key belongs to another tenant");
      if (!row.kek) throw new Error("a subject key's KEK is gone");
      const kek = await this.kek(row.tenantId, row.kekVersion, row.kek.wrapped, row.kek.masterVersion);
      found.set(subjectId, this.unwrapSubjectKey(kek, row.tenantId, subjectId, row.kekVersion, row.wrapped));
    }
    return found;
  }

  /**
   * New keys for the subjects, each wrapped by its tenant's newest KEK. A rotation may destroy
   * that KEK between its read and the keys' write: the key store then refuses them (a subject key
   * never outlives its KEK), and they are wrapped again under the KEK that replaced it.
   */
  private async makeSubjectKeys(keystore: DataSource, subjectIds: readonly string[], tenantOf: ReadonlyMap<string, string>, now: Date): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const made = [];
      // Each tenant's KEK read (or made) once for all its subjects: a batch's first records of a
      // thousand new subjects would otherwise read it a thousand times, one round trip each.
      const keks = new Map<string, Promise<{ version: number; key: Buffer }>>();
      for (const subjectId of subjectIds) {
        const tenantId = tenantOf.get(subjectId)!;
        if (!keks.has(tenantId)) keks.set(tenantId, this.tenantKek(keystore, tenantId, now));
        const kek = await keks.get(tenantId)!;
        made.push({
          subjectId,
          tenantId,
          kekVersion: kek.version,
          wrapped: wrapKey(kek.key, newKey(), associatedData("subject-key", [tenantId, subjectId], kek.version)),
        });
      }
      try {
        return await addSubjectKeys(keystore.manager, made, now);
      } catch (error) {
        if (pgErrorCode(error) !== PG_FOREIGN_KEY_VIOLATION || attempt >= 3) throw error;
      }
    }
  }

  /** The tenant's current KEK, made when it has none. */
  private async tenantKek(keystore: DataSource, tenantId: string, now: Date): Promise<{ version: number; key: Buffer }> {
    let row = await newestTenantKey(keystore.manager, tenantId, "KEK");
    if (!row) {
      const version = 1;
      const wrapped = await this.provider.wrap(newKey(), associatedData("tenant-key", [tenantId, "KEK", `m${this.provider.version}`], version));
      row = await addTenantKey(keystore.manager, { tenantId, kind: "KEK", version, wrapped, masterVersion: this.provider.version }, now);
    }
    return { version: row.version, key: await this.kek(tenantId, row.version, row.wrapped, row.masterVersion) };
  }

  private async kekByVersion(keystore: DataSource, tenantId: string, version: number): Promise<Buffer> {
    const cached = this.cache.get(`t:${tenantId}:KEK:${version}`);
    if (cached) return cached;
    const row = await tenantKey(keystore.manager, tenantId, "KEK", version);
    if (!row) throw new Error("a subject key's KEK is gone");
    return this.kek(tenantId, version, row.wrapped, row.masterVersion);
  }
}

const subjectShredded = () =>
  new DomainError(ErrorCode.DATA_SHREDDED, "This data subject's keys were destroyed when it was purged: nothing can be recorded for it.");

function recordCacheKey(recordId: string, version: number): string {
  return `r:${recordId}:${version}`;
}
