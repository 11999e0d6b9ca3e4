import { BadUserInputError, DomainError, ErrorCode } from "../../shared/errors";
import { ProcessingPurpose } from "./processing-purpose";

/** Never accepted, for collecting, reading or sharing (DOMAIN rule 11). */
export const PROHIBITED_PURPOSES: ReadonlySet<ProcessingPurpose> = new Set([ProcessingPurpose.PROFILING, ProcessingPurpose.MARKETING]);

export function isProhibited(purpose: ProcessingPurpose): boolean {
  return PROHIBITED_PURPOSES.has(purpose);
}

export class PurposeProhibitedError extends DomainError {
  constructor(purpose: ProcessingPurpose, field?: string) {
    super(ErrorCode.PURPOSE_PROHIBITED, `${purpose} is never accepted: personal data is not used for profiling or marketing.`, field ? { field } : {});
  }
}

/**
 * The purposes a record (or an agreement) is collected for: at least one, none prohibited, and
 * never SUBJECT_ACCESS, which is implicit. Returns them without duplicates, in enum order.
 */
export function declaredPurposes(purposes: readonly ProcessingPurpose[], field: string): ProcessingPurpose[] {
  const prohibited = purposes.find(isProhibited);
  if (prohibited) throw new PurposeProhibitedError(prohibited, field);
  if (purposes.length === 0) throw new BadUserInputError(field, "Declare at least one purpose the data is collected for.");
  if (purposes.includes(ProcessingPurpose.SUBJECT_ACCESS)) {
    throw new BadUserInputError(field, "SUBJECT_ACCESS is implicit for every record and is never declared.");
  }
  const order = Object.values(ProcessingPurpose);
  return [...new Set(purposes)].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}
