import type { DataSource } from "typeorm";
import { keystoreOf } from "../keys/keystore-of";
import type { RequestContext } from "../../context";
import { DomainError, ErrorCode } from "../../shared/errors";
import { associatedData, IntegrityError, open, seal } from "../keys/envelope";
import { TAMPERED, type KeyRing, type RecordKeyRef } from "../keys/key-ring";
import type { JsonObject } from "./personal-data.types";
import type { Logger } from "../../shared/logging";
import { em } from "../../shared/db/database";
import type { RecordStatus } from "./personal-data.enums";
import { correctedSince } from "./read-policy";
import { valueRows, type StoredValueRow } from "./personal-data.store";
import { deepFreeze } from "../../shared/deep-freeze";
import { asBytes } from "../../shared/db/bytes";

/** A value as stored: plaintext from before sealing, or sealed under the record's key of `keyVersion`. */
export interface StoredValue {
  recordId: string;
  tenantId: string;
  subjectId: string;
  plain: JsonObject | null;
  /**
   * Sealed bytes: as pg gives them, or as a statement's JSON carried them (`\x` and hex), left so
   * until opened: a value kept opened is recognised by that text alone.
   */
  sealed: Buffer | string | null;
  keyVersion: number | null;
}

export const shredded = () =>
  new DomainError(ErrorCode.DATA_SHREDDED, "This record's key was destroyed when it was purged: its value can never be read again.");
/** Whether an opened value is a shredded one (its key destroyed). */
export const isShredded = (value: unknown) => value instanceof DomainError && value.code === ErrorCode.DATA_SHREDDED;
export const integrityFailure = () =>
  new DomainError(ErrorCode.DATA_INTEGRITY_FAILURE, "This record's stored value failed authentication (tampered with or moved): it is not returned.");

/** A value as its row holds it. */
export function storedValueOf(row: StoredValueRow): StoredValue {
  return {
    recordId: row.id,
    tenantId: row.tenant_id,
    subjectId: row.data_subject_id,
    plain: row.value as JsonObject | null,
    sealed: row.value_sealed,
    keyVersion: row.value_key_version,
  };
}

/** Sealed bytes as text, the form a statement's JSON carries them in (bytea's hex output). */
const sealedText = (sealed: Buffer | string) => (typeof sealed === "string" ? sealed : `\\x${sealed.toString("hex")}`);

/** A value as its key opened it, with what it was opened from: kept with the key (KeyRing.keepOpened). */
interface Opened {
  tenantId: string;
  subjectId: string;
  /** What it was opened from, as text (sealedText). */
  sealed: string;
  /** Frozen: every reader gets this one object. */
  value: JsonObject;
}

/** About what an opened value holds in memory: its ciphertext as text and the parsed value (objects take about four times their JSON). */
const openedBytes = (sealed: string, plaintext: Buffer) => 200 + sealed.length + 4 * plaintext.length;

/** A correction could in principle land between every re-read and its key's: this many re-reads, then shredded it stays. */
const REREADS = 3;

/** What binds a sealed value to its row: tenant, subject, record and key version. */
export function valueAad(ref: RecordKeyRef): string {
  return associatedData("record", [ref.tenantId, ref.subjectId, ref.recordId], ref.version);
}

/**
 * Record values sealed under keys of their own (see src/modules/keys): a value is sealed
 * before it is stored and opened after the read's rules and audit have let it out.
 */
export class SealedValues {
  constructor(private readonly keys: KeyRing) {}

  /** Seals each value under a new key of its record (made and committed in the key store first). */
  seal(keystore: DataSource, items: ReadonlyArray<RecordKeyRef & { value: unknown }>, now: Date): Promise<Buffer[]> {
    return this.sealWhile(keystore, items, now, async (sealed) => sealed);
  }

  /**
   * Seals each value under a new key of its record and runs `write` with the sealed values while
   * the keys are stored (`retireOlder`: a correction's, noting that the record's older keys go
   * once it commits): resolves when both are done, so a caller that commits after it never
   * commits a value without its key; rejects (after both ended) when either failed. The key
   * store's round trip then costs a write no time of its own.
   */
  async sealWhile<T>(
    keystore: DataSource,
    items: ReadonlyArray<RecordKeyRef & { value: unknown }>,
    now: Date,
    write: (sealed: Buffer[]) => Promise<T>,
    options: { retireOlder?: boolean; keyedSubjects?: ReadonlySet<string> } = {},
  ): Promise<T> {
    const { keys, stored } = this.keys.createRecordKeys(keystore, items, now, options);
    const sealed = items.map((item, i) => seal(keys[i], Buffer.from(JSON.stringify(item.value), "utf8"), valueAad(item)));
    const [keysStored, written] = await Promise.allSettled([stored, write(sealed)]);
    if (keysStored.status === "rejected") throw keysStored.reason;
    if (written.status === "rejected") throw written.reason;
    return written.value;
  }

  /**
   * The values, in order: a plaintext one as it is; a sealed one opened, DATA_SHREDDED when its
   * key is gone, DATA_INTEGRITY_FAILURE when it fails authentication (logged without values).
   * One value's failure is that value's alone. A value corrected since its row was read (its old
   * key destroyed meanwhile) is read again as it is now, not answered as shredded; `onCorrected`
   * is told, for a caller that shows the rows' other columns too.
   */
  async open(ctx: RequestContext, values: readonly StoredValue[], onCorrected?: () => void): Promise<Array<JsonObject | DomainError>> {
    const keystore = keystoreOf(ctx);
    const opened = await this.openWith(keystore, values, ctx.log);
    // Values corrected since their rows were read are read again, as they are now (correctedSince).
    const read = [...values];
    let shreddedAt = opened.flatMap((value, i) => (isShredded(value) ? [i] : []));
    for (let round = 0; shreddedAt.length && round < REREADS; round++) {
      const rows = await valueRows<StoredValueRow & { status: RecordStatus }>(
        em(ctx),
        shreddedAt.map((i) => read[i].recordId),
      );
      const now = new Map(rows.map((row) => [row.id, { ...storedValueOf(row), status: row.status }]));
      const corrected = shreddedAt.filter((i) => correctedSince(read[i], now.get(read[i].recordId)));
      if (!corrected.length) break;
      onCorrected?.();
      corrected.forEach((i) => (read[i] = now.get(read[i].recordId)!));
      const reopened = await this.openWith(
        keystore,
        corrected.map((i) => read[i]),
        ctx.log,
      );
      corrected.forEach((i, k) => (opened[i] = reopened[k]));
      shreddedAt = corrected.filter((i) => isShredded(opened[i]));
    }
    return opened;
  }

  /** As `open`, with the key store given and no re-read of corrected values (a reader outside a request: the bench's floor). */
  async openWith(keystore: DataSource, values: readonly StoredValue[], log: Pick<Logger, "error">): Promise<Array<JsonObject | DomainError>> {
    const kept = values.map((v) => (v.sealed ? this.keptValue(v) : undefined));
    const toOpen = values.flatMap((v, i) => (v.sealed && !kept[i] ? [i] : []));
    const keys: Array<Buffer | null | typeof TAMPERED> = toOpen.length
      ? await this.keys.recordKeys(
          keystore,
          toOpen.map((i) => ({ recordId: values[i].recordId, version: values[i].keyVersion! })),
        )
      : [];
    const opened = new Map<number, Buffer | null | typeof TAMPERED>(toOpen.map((i, k) => [i, keys[k]]));
    return values.map((v, i) => {
      if (!v.sealed) return v.plain!;
      if (kept[i]) return kept[i];
      const key = opened.get(i);
      if (!key) return shredded();
      try {
        if (key === TAMPERED) throw new IntegrityError();
        const aad = valueAad({ tenantId: v.tenantId, subjectId: v.subjectId, recordId: v.recordId, version: v.keyVersion! });
        const plaintext = open(key, asBytes(v.sealed)!, aad);
        const value = deepFreeze(JSON.parse(plaintext.toString("utf8")) as JsonObject);
        const entry: Opened = { tenantId: v.tenantId, subjectId: v.subjectId, sealed: sealedText(v.sealed), value };
        this.keys.keepOpened({ recordId: v.recordId, version: v.keyVersion! }, entry, openedBytes(entry.sealed, plaintext));
        return value;
      } catch (error) {
        if (!(error instanceof IntegrityError)) throw error;
        log.error({ recordId: v.recordId, tenantId: v.tenantId }, "a record value failed authentication: it was not returned");
        return integrityFailure();
      }
    });
  }

  /**
   * The value this process opened before from the very ciphertext `v` holds, for the very row
   * (what its associated data binds: tenant, subject, record and key version; the last two name
   * the key it is kept with), while it still holds that key; else undefined. A ciphertext changed,
   * moved or rebound since is opened again, and fails as it should.
   */
  private keptValue(v: StoredValue): JsonObject | undefined {
    const kept = this.keys.openedWith({ recordId: v.recordId, version: v.keyVersion! }) as Opened | undefined;
    return kept && kept.tenantId === v.tenantId && kept.subjectId === v.subjectId && kept.sealed === sealedText(v.sealed!) ? kept.value : undefined;
  }

  /** Destroys the keys of the record's values before `version` (a correction's old value), once the correction has committed. */
  destroyOlder(ctx: RequestContext, recordId: string, version: number): Promise<void> {
    return this.keys.destroyRecordKeys(keystoreOf(ctx), [recordId], version);
  }
}
