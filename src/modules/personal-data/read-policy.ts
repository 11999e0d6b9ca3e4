import type { Principal } from "../../shared/auth/principal";
import { Role } from "../../shared/auth/role";
import { ErrorCode } from "../../shared/errors";
import { ProcessingPurpose } from "../purpose/processing-purpose";
import { isProhibited } from "../purpose/purpose-policy";
import { RecordStatus } from "./personal-data.enums";

export interface ReadableRecord {
  tenantId: string;
  dataSubjectId: string;
  purposes: readonly ProcessingPurpose[];
  status: RecordStatus;
}

/** Roles that may ever read a value; operators, auditors and partners never do. */
const VALUE_READERS: ReadonlySet<Role> = new Set([Role.TENANT_ADMIN, Role.INTEGRATION, Role.DATA_SUBJECT]);

/**
 * DOMAIN rules 6, 11 and 12: why this principal may not read this record's value for this
 * purpose, or null when it may. The first rule that refuses decides the code.
 */
export function valueReadRefusal(principal: Principal, purpose: ProcessingPurpose, record: ReadableRecord): ErrorCode | null {
  if (!VALUE_READERS.has(principal.role)) return ErrorCode.FORBIDDEN;
  if (isProhibited(purpose)) return ErrorCode.PURPOSE_PROHIBITED;
  if (record.tenantId !== principal.tenantId) return ErrorCode.NOT_FOUND;
  if (principal.role === Role.DATA_SUBJECT && record.dataSubjectId !== principal.dataSubjectId) return ErrorCode.NOT_FOUND;
  if (record.status !== RecordStatus.ACTIVE) return ErrorCode.RECORD_PENDING_DELETION;
  if (principal.role === Role.DATA_SUBJECT) return purpose === ProcessingPurpose.SUBJECT_ACCESS ? null : ErrorCode.PURPOSE_NOT_PERMITTED;
  return record.purposes.includes(purpose) ? null : ErrorCode.PURPOSE_NOT_PERMITTED;
}

/** Which key version a row's value is sealed under (null: plaintext from before sealing). */
export interface ValueVersion {
  keyVersion: number | null;
}

/**
 * Whether a value whose key was gone had been corrected since its row was read, rather than
 * shredded: a correction destroys the old value's key as soon as it commits, so a read that took
 * the row just before finds no key for it. The row then holds a sealed value under a newer key
 * version and is still ACTIVE (values are read from ACTIVE records only), and is read again. A
 * purged record's row is gone, or still at the version read (a restored backup's).
 */
export function correctedSince(read: ValueVersion, now: (ValueVersion & { status: RecordStatus; sealed: unknown }) | undefined): boolean {
  return !!now?.sealed && now.status === RecordStatus.ACTIVE && (now.keyVersion ?? 0) > (read.keyVersion ?? 0);
}
