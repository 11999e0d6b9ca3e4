import type { RequestContext } from "../../context";
import { keystoreOf } from "../keys/keystore-of";
import { DomainError, ErrorCode } from "../../shared/errors";
import { DataLoader } from "../../shared/loaders";
import { associatedData, blindIndex, IntegrityError, open, seal } from "../keys/envelope";
import { TAMPERED, type KeyRing } from "../keys/key-ring";
import type { DataSource } from "typeorm";

/** What identifies a data subject, as a reader gets it: opened, or why it cannot be. */
export interface Identity {
  externalId: string;
  displayName: string | null;
}

/** A subject's identifiers as stored: plaintext from before sealing, or sealed under the subject's key. */
export interface StoredIdentity {
  id: string;
  tenantId: string;
  externalId: string | null;
  displayName: string | null;
  externalIdSealed: Buffer | null;
  displayNameSealed: Buffer | null;
}

/** A subject whose identifiers are to be sealed. */
export interface SubjectToSeal {
  tenantId: string;
  id: string;
  externalId: string;
  displayName: string | null;
}

/** A subject's identifiers sealed, with its external id's blind index. */
export interface SealedIdentity {
  externalIdSealed: Buffer;
  displayNameSealed: Buffer | null;
  externalIdIndex: string;
}

/** The subject key seals its identifiers once (the key is the subject's alone and never re-made): version 1. */
const IDENTITY_VERSION = 1;

const aad = (tenantId: string, subjectId: string, field: "externalId" | "displayName") =>
  associatedData("subject", [tenantId, subjectId, field], IDENTITY_VERSION);

/**
 * Data subjects' identifiers sealed under the subject's own key (src/modules/keys): destroying
 * that key at the subject's purge makes them unreadable in every copy. The external id's
 * uniqueness in its tenant is checked on a keyed blind index, never on the plaintext.
 */
export class SealedIdentities {
  constructor(private readonly keys: KeyRing) {}

  /** The sealed identifiers of a subject being registered, with its external id's blind index. */
  async seal(keystore: DataSource, subject: SubjectToSeal, now: Date): Promise<SealedIdentity> {
    return (await this.sealAll(keystore, [subject], now))[0];
  }

  /**
   * The same for many subjects, in order: their keys made (or read) in one go, each tenant's
   * index key read once. Sealing existing subjects one by one cost four key store round trips each.
   */
  async sealAll(keystore: DataSource, subjects: readonly SubjectToSeal[], now: Date): Promise<SealedIdentity[]> {
    const keys = await this.keys.subjectKeys(
      keystore,
      subjects.map((s) => ({ tenantId: s.tenantId, subjectId: s.id })),
      now,
    );
    const indexKeys = new Map<string, Buffer>();
    for (const tenantId of new Set(subjects.map((s) => s.tenantId))) indexKeys.set(tenantId, await this.keys.indexKey(keystore, tenantId, now));
    return subjects.map((subject) => {
      const key = keys.get(subject.id)!;
      return {
        externalIdSealed: seal(key, Buffer.from(subject.externalId, "utf8"), aad(subject.tenantId, subject.id, "externalId")),
        displayNameSealed:
          subject.displayName === null ? null : seal(key, Buffer.from(subject.displayName, "utf8"), aad(subject.tenantId, subject.id, "displayName")),
        externalIdIndex: blindIndex(indexKeys.get(subject.tenantId)!, subject.externalId),
      };
    });
  }

  /**
   * The subject's identifiers (all subjects a request opens are opened in one key store
   * statement): DATA_SHREDDED when its key is gone, DATA_INTEGRITY_FAILURE when they fail
   * authentication (logged by subject id, without values).
   */
  open(ctx: RequestContext, subject: StoredIdentity): Promise<Identity> {
    if (!subject.externalIdSealed) return Promise.resolve({ externalId: subject.externalId!, displayName: subject.displayName });
    return ctx.loaders.get(ctx, this.loader).load(subject);
  }

  private readonly loader = (ctx: RequestContext) =>
    new DataLoader<StoredIdentity, Identity, string>(
      async (subjects) => {
        const keys = await this.keys.openSubjectKeys(keystoreOf(ctx), [...new Set(subjects.map((s) => s.id))]);
        return subjects.map((s) => {
          const key = keys.get(s.id);
          if (!key)
            return new DomainError(ErrorCode.DATA_SHREDDED, "This data subject's key was destroyed when it was purged: who it was can never be read again.");
          try {
            if (key === TAMPERED) throw new IntegrityError();
            return {
              externalId: open(key, s.externalIdSealed!, aad(s.tenantId, s.id, "externalId")).toString("utf8"),
              displayName: s.displayNameSealed ? open(key, s.displayNameSealed, aad(s.tenantId, s.id, "displayName")).toString("utf8") : null,
            };
          } catch (error) {
            if (!(error instanceof IntegrityError)) throw error;
            ctx.log.error({ dataSubjectId: s.id, tenantId: s.tenantId }, "a data subject's identifiers failed authentication: they were not returned");
            return new DomainError(
              ErrorCode.DATA_INTEGRITY_FAILURE,
              "This data subject's stored identifiers failed authentication (tampered with or moved): they are not returned.",
            );
          }
        });
      },
      { cacheKeyFn: (s) => s.id },
    );
}
