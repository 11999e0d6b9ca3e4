import { Role } from "../../shared/auth/role";
import { ErrorCode } from "../../shared/errors";
import { DataCategory } from "../personal-data/personal-data.enums";
import { RecordStatus } from "../personal-data/personal-data.enums";
import type { ProcessingPurpose } from "../purpose/processing-purpose";
import { isProhibited } from "../purpose/purpose-policy";
import { ThirdPartyRole } from "../third-party/third-party.types";
import { AGREEMENT_VIEWERS, SharingAgreementStatus, SharingDirection } from "./sharing.types";

export interface PartyFacts {
  role: ThirdPartyRole;
  listedAsSubprocessor: boolean;
  dataSharingProhibited: boolean;
}

export interface AgreementFacts {
  status: SharingAgreementStatus;
  direction: SharingDirection;
  dataCategories: readonly DataCategory[];
  purposes: readonly ProcessingPurpose[];
  /** What the administrator consented to (INDEPENDENT parties); null before consent. */
  consentCategories: readonly DataCategory[] | null;
  consentPurposes: readonly ProcessingPurpose[] | null;
}

export interface ShareRecordFacts {
  /** Null when no record of the agreement's tenant has the id. */
  status: RecordStatus | null;
  category: DataCategory | null;
  purposes: readonly ProcessingPurpose[];
}

export interface Refusal {
  code: ErrorCode;
  reason: string;
  /** The position of the refused record in the request, when a record caused it. */
  index?: number;
}

/** DOMAIN rules 15 and 17: where a new agreement starts. Null: the party never receives data. */
export function initialStatus(party: PartyFacts): SharingAgreementStatus | null {
  if (party.dataSharingProhibited) return null;
  if (party.role === ThirdPartyRole.INDEPENDENT) return SharingAgreementStatus.PENDING_CONSENT;
  return party.listedAsSubprocessor ? SharingAgreementStatus.ACTIVE : SharingAgreementStatus.SUSPENDED;
}

/** Why data may not flow under this agreement now (whatever the records), or null. */
export function agreementRefusal(agreement: AgreementFacts, party: PartyFacts): Refusal | null {
  if (party.dataSharingProhibited) return { code: ErrorCode.SHARING_PROHIBITED, reason: "This third party never receives data." };
  if (agreement.status === SharingAgreementStatus.REVOKED)
    return { code: ErrorCode.CONSENT_REVOKED, reason: "The agreement was revoked; a new agreement is needed." };
  if (agreement.status === SharingAgreementStatus.PENDING_CONSENT) {
    return { code: ErrorCode.CONSENT_REQUIRED, reason: "The tenant administrator has not consented to this agreement." };
  }
  if (party.role === ThirdPartyRole.AGENT && (!party.listedAsSubprocessor || agreement.status === SharingAgreementStatus.SUSPENDED)) {
    return { code: ErrorCode.SUBPROCESSOR_NOT_LISTED, reason: "The agent is not on the subprocessor list." };
  }
  return null;
}

/** The categories and purposes in force: the agreement's, narrowed to the consent's where there is one. */
function covered(agreement: AgreementFacts) {
  const categories = agreement.consentCategories ? agreement.dataCategories.filter((c) => agreement.consentCategories!.includes(c)) : agreement.dataCategories;
  const purposes = agreement.consentPurposes ? agreement.purposes.filter((p) => agreement.consentPurposes!.includes(p)) : agreement.purposes;
  return { categories, purposes };
}

/**
 * DOMAIN rule 18: a share is refused unless the purpose is allowed, the subscription active,
 * the agreement ACTIVE and OUTBOUND for a party that may receive, the purpose one of the
 * agreement's, and every record ACTIVE, of the tenant, of a covered category and collected for
 * the purpose. The first rule that refuses decides the code.
 */
export function shareRefusal(
  input: { purpose: ProcessingPurpose; subscriptionActive: boolean },
  agreement: AgreementFacts,
  party: PartyFacts,
  records: readonly ShareRecordFacts[],
): Refusal | null {
  if (isProhibited(input.purpose)) return { code: ErrorCode.PURPOSE_PROHIBITED, reason: `${input.purpose} is never accepted.` };
  if (!input.subscriptionActive) return { code: ErrorCode.SUBSCRIPTION_ENDED, reason: "The tenant's subscription has ended: nothing is shared." };
  const refused = agreementRefusal(agreement, party);
  if (refused) return refused;
  if (agreement.direction !== SharingDirection.OUTBOUND) {
    return { code: ErrorCode.BAD_USER_INPUT, reason: "This is an INBOUND agreement: data comes from the party under it, nothing is sent." };
  }
  const { categories, purposes } = covered(agreement);
  if (!purposes.includes(input.purpose)) return { code: ErrorCode.PURPOSE_NOT_PERMITTED, reason: "The agreement does not cover this purpose." };
  for (const [index, record] of records.entries()) {
    if (record.status === null) return { code: ErrorCode.NOT_FOUND, reason: "No record with that id exists in the agreement's tenant.", index };
    if (record.status !== RecordStatus.ACTIVE)
      return { code: ErrorCode.RECORD_PENDING_DELETION, reason: "The record is pending deletion: it can't be shared.", index };
    if (!categories.includes(record.category!))
      return { code: ErrorCode.CATEGORY_NOT_COVERED, reason: "The record's category is outside the agreement.", index };
    if (!record.purposes.includes(input.purpose))
      return { code: ErrorCode.PURPOSE_NOT_PERMITTED, reason: "The record was not collected for this purpose.", index };
  }
  return null;
}

/**
 * DOMAIN rule 19: data from a third party needs an ACTIVE INBOUND agreement with it covering
 * the category. Given the tenant's INBOUND agreements with that party, why not (or null).
 */
export function inboundRefusal(agreements: ReadonlyArray<AgreementFacts>, party: PartyFacts, category: DataCategory): Refusal | null {
  const usable = agreements.filter((a) => agreementRefusal(a, party) === null);
  if (usable.some((a) => covered(a).categories.includes(category))) return null;
  if (usable.length > 0) return { code: ErrorCode.CATEGORY_NOT_COVERED, reason: "No active INBOUND agreement with this party covers the record's category." };
  const refusals = agreements.map((a) => agreementRefusal(a, party)!);
  const preferred = [ErrorCode.SHARING_PROHIBITED, ErrorCode.SUBPROCESSOR_NOT_LISTED, ErrorCode.CONSENT_REQUIRED, ErrorCode.CONSENT_REVOKED];
  for (const code of preferred) {
    const found = refusals.find((r) => r.code === code);
    if (found) return found;
  }
  return { code: ErrorCode.CONSENT_REQUIRED, reason: "Records from this party need an ACTIVE INBOUND agreement with it." };
}

export const ALL_CATEGORIES: readonly DataCategory[] = Object.values(DataCategory);

/** A transfer as its facts: which records went, of which categories. */
export interface TransferFacts {
  recordIds: readonly string[];
  categories: readonly DataCategory[];
}

/**
 * What a data subject sees of a transfer of its own record: its own records in it, their count
 * and categories; never the ids of other people's records that went with them.
 */
export function transferSeenBySubject(transfer: TransferFacts, ownCategories: ReadonlyMap<string, DataCategory>): TransferFacts {
  const recordIds = transfer.recordIds.filter((id) => ownCategories.has(id));
  return { recordIds, categories: [...new Set(recordIds.map((id) => ownCategories.get(id)!))].sort() };
}

/**
 * How a role reaches agreements, transfers and notices: agreement viewers within their scope
 * (`sharingAgreement`, its `transfers` and `openNotices`); a data subject only the transfers that
 * carried its own records and their agreements (its records' `transfers`, a transfer's
 * `agreement`), never notices; partners nothing.
 */
export function sharingReach(role: Role): "scope" | "own-records" | "none" {
  if ((AGREEMENT_VIEWERS as readonly Role[]).includes(role)) return "scope";
  return role === Role.DATA_SUBJECT ? "own-records" : "none";
}
