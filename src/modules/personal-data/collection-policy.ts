import { BadUserInputError, DomainError, ErrorCode } from "../../shared/errors";
import { JSON_PROBLEM_MESSAGES, jsonProblem } from "../../shared/graphql/variable-limits";
import { isUuid } from "../../shared/ids";
import type { ProcessingPurpose } from "../purpose/processing-purpose";
import { declaredPurposes } from "../purpose/purpose-policy";
import type { JsonObject } from "./personal-data.types";

export const MAX_VALUE_BYTES = 64 * 1024;
/** Nesting of a value (`{}` is 1): deeper JSON is no record anyone reads, and it overflowed stacks on its way to jsonb. */
export const MAX_VALUE_DEPTH = 32;
export const MAX_BATCH_ITEMS = 1000;

/**
 * What reading a value costs against the query cost limit: 1, plus 1 per 4 KiB a value may
 * hold. Nine aliased pages of 500 values cost 9,000 at 1 apiece and answered 166 MB; now a page of
 * 500 values (9,500) is the most one request may read.
 */
export const VALUE_READ_COST = 1 + MAX_VALUE_BYTES / 4096;
/** An export carries every value of a person: at most one per request, beside little else. */
export const EXPORT_COST = 6000;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** DOMAIN rule 3: a record is stored in its tenant's location and nowhere else. */
export function checkResidency(requested: string | null | undefined, tenantLocation: string): void {
  if (requested != null && requested !== tenantLocation) {
    throw new DomainError(
      ErrorCode.RESIDENCY_VIOLATION,
      // The requested code is not repeated: it is the client's text, of any length.
      `The tenant's data is stored in ${tenantLocation}; a record cannot be stored in another location. Omit storageLocationCode or name ${tenantLocation}.`,
      { field: "storageLocationCode" },
    );
  }
}

/** A value is a JSON object of at most 64 KiB serialized, nested at most 32 levels, stored exactly as sent. Returns its serialized size. */
export function checkValue(value: JsonObject, field: string): number {
  // The value is stored as sent or refused, never changed on the way (a literal in the document
  // reaches here without the variables' check).
  const problem = jsonProblem(value, MAX_VALUE_DEPTH);
  if (problem === "TOO_DEEP") throw new BadUserInputError(field, `A value may be nested at most ${MAX_VALUE_DEPTH} levels deep.`);
  if (problem) throw new BadUserInputError(field, `A value ${JSON_PROBLEM_MESSAGES[problem]}.`);
  const bytes = Buffer.byteLength(JSON.stringify(value), "utf8");
  if (bytes > MAX_VALUE_BYTES) {
    throw new BadUserInputError(field, `A value may be at most ${MAX_VALUE_BYTES} bytes serialized; this one is ${bytes}.`);
  }
  return bytes;
}

export function checkIdempotencyKey(key: string | null | undefined, field: string): string | null {
  if (key == null) return null;
  if (key.length < 1 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new BadUserInputError(field, `An idempotency key has 1..${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`);
  }
  return key;
}

export interface RecordDraft {
  dataSubjectId: string;
  category: string;
  purposes: ProcessingPurpose[];
  value: JsonObject;
  sourceThirdPartyId?: string | null;
}

/**
 * DOMAIN rule 11 for one record: a subject id, declared purposes, a value that fits. A named
 * source is checked against the tenant's INBOUND agreements by the sharing feature (rule 19).
 */
export function checkRecordDraft(draft: RecordDraft, prefix: string): RecordDraft {
  if (!isUuid(draft.dataSubjectId)) throw new BadUserInputError(`${prefix}dataSubjectId`, "dataSubjectId is not an id this API issued.");
  const purposes = declaredPurposes(draft.purposes, `${prefix}purposes`);
  checkValue(draft.value, `${prefix}value`);
  if (draft.sourceThirdPartyId != null && !isUuid(draft.sourceThirdPartyId)) {
    throw new BadUserInputError(`${prefix}sourceThirdPartyId`, "sourceThirdPartyId is not an id this API issued.");
  }
  return { ...draft, dataSubjectId: draft.dataSubjectId.toLowerCase(), sourceThirdPartyId: draft.sourceThirdPartyId?.toLowerCase() ?? null, purposes };
}

export function checkBatchSize(count: number): void {
  if (count < 1 || count > MAX_BATCH_ITEMS) {
    throw new BadUserInputError("records", `A batch has 1..${MAX_BATCH_ITEMS} records; this one has ${count}.`);
  }
}

/** The same refusal, saying which item of a batch caused it (fields become records.<i>.<field>). */
export function atBatchIndex(error: unknown, index: number): unknown {
  if (!(error instanceof DomainError)) return error;
  const { code: _code, ...extensions } = error.extensions as Record<string, unknown>;
  return new DomainError(error.code, `Item ${index}: ${error.message}`, { ...extensions, index });
}
