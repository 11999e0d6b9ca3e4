import type { DataSource } from "typeorm";
import type { RequestContext } from "../../context";
import { DomainError, ErrorCode } from "../../shared/errors";
import { DataLoader } from "../../shared/loaders";
import { associatedData, IntegrityError, open, seal } from "../keys/envelope";
import { TAMPERED, type KeyRing } from "../keys/key-ring";
import { keystoreOf } from "../keys/keystore-of";

/** The reasons a subject reads: free text an administrator typed about the subject's request. */
export type ReasonField = "extensionReason" | "rejectionReason";

/** A request's reasons as stored: plaintext from before sealing, or sealed under the subject's key. */
export interface StoredReasons {
  id: string;
  tenantId: string;
  dataSubjectId: string;
  extensionReason: string | null;
  rejectionReason: string | null;
  extensionReasonSealed: Buffer | null;
  rejectionReasonSealed: Buffer | null;
}

/** A reason to seal: which request and field it belongs to, and its text. */
export interface ReasonToSeal {
  tenantId: string;
  dataSubjectId: string;
  requestId: string;
  field: ReasonField;
  text: string;
}

/** The subject key seals its requests' reasons once each (the key is never re-made): version 1. */
const REASON_VERSION = 1;

const aad = (r: { tenantId: string; dataSubjectId: string; requestId: string }, field: ReasonField) =>
  associatedData("subject-request", [r.tenantId, r.dataSubjectId, r.requestId, field], REASON_VERSION);

type Opened = Record<ReasonField, string | null | DomainError>;

/**
 * The reasons of subject requests, sealed under the subject's key: an administrator writes them to
 * the subject and may name it in them, and a request outlives its subject's purge, so they are
 * destroyed with the subject's key like its name (in every copy). Once the subject is purged they
 * read as null, as its `dataSubject` does.
 */
export class SealedReasons {
  constructor(private readonly keys: KeyRing) {}

  /**
   * Sealed, in order, under their subjects' keys (made for subjects that have none yet, unless
   * `keyed` says their identity is sealed: those had a key, and without it were purged).
   */
  async seal(keystore: DataSource, reasons: readonly ReasonToSeal[], now: Date, keyed?: ReadonlySet<string>): Promise<Buffer[]> {
    if (!reasons.length) return [];
    const keys = await this.keys.subjectKeys(
      keystore,
      reasons.map((r) => ({ tenantId: r.tenantId, subjectId: r.dataSubjectId })),
      now,
      keyed,
    );
    return reasons.map((r) => seal(keys.get(r.dataSubjectId)!, Buffer.from(r.text, "utf8"), aad(r, r.field)));
  }

  /**
   * The request's `field`: null once its subject's key is gone (purged); DATA_INTEGRITY_FAILURE
   * when it fails authentication (logged by request id, without values). All requests a request
   * reads are opened with one key store statement.
   */
  async open(ctx: RequestContext, request: StoredReasons, field: ReasonField): Promise<string | null> {
    if (!request.extensionReasonSealed && !request.rejectionReasonSealed) return request[field];
    const opened = (await ctx.loaders.get(ctx, this.loader).load(request))[field];
    if (opened instanceof DomainError) throw opened;
    return opened;
  }

  private readonly loader = (ctx: RequestContext) =>
    new DataLoader<StoredReasons, Opened, string>(
      async (requests) => {
        const keys = await this.keys.openSubjectKeys(keystoreOf(ctx), [...new Set(requests.map((r) => r.dataSubjectId))]);
        return requests.map((r) => {
          const key = keys.get(r.dataSubjectId) ?? null;
          const one = (field: ReasonField, sealed: Buffer | null): string | null | DomainError => {
            if (!sealed) return r[field];
            if (!key) return null;
            try {
              if (key === TAMPERED) throw new IntegrityError();
              return open(key, sealed, aad({ ...r, requestId: r.id }, field)).toString("utf8");
            } catch (error) {
              if (!(error instanceof IntegrityError)) throw error;
              ctx.log.error({ subjectRequestId: r.id, tenantId: r.tenantId, field }, "a subject request's reason failed authentication: it was not returned");
              return new DomainError(
                ErrorCode.DATA_INTEGRITY_FAILURE,
                "This request's stored reason failed authentication (tampered with or moved): it is not returned.",
              );
            }
          };
          return { extensionReason: one("extensionReason", r.extensionReasonSealed), rejectionReason: one("rejectionReason", r.rejectionReasonSealed) };
        });
      },
      { cacheKeyFn: (r) => r.id },
    );
}
