import type { RequestContext } from "../../context";

/**
 * What collecting, correcting and deleting records need of sharing. Sharing depends on personal
 * data (it shares records), so personal data names these and schema.ts hands in sharing's.
 */

/** A record being collected, as far as its source matters. */
export interface SourcedItem {
  sourceThirdPartyId?: string | null;
  category: string;
}

/** DOMAIN rule 19: a record naming a source needs an active inbound agreement with it covering its category. */
export interface InboundSources {
  /** Throws the refusal of the first item that breaks the rule, naming its field (`fieldOf(index)`). */
  check(ctx: RequestContext, tenantId: string, items: readonly SourcedItem[], fieldOf: (index: number) => string, batch: boolean): Promise<void>;
}

/** DOMAIN rule 21: recipients of shared records are told when those records are erased or corrected. */
export interface RecordRecipients {
  /** Raises a notice per agreement each record went out under; returns the ids of those raised. */
  raise(ctx: RequestContext, tenantId: string, recordIds: readonly string[], kind: "ERASURE" | "RECTIFICATION"): Promise<string[]>;
}

/** A transfer as a subject's export shows it (DOMAIN rule 14): to whom, under what, why, what and when. */
export interface ExportedTransfer {
  id: string;
  thirdParty: { id: string; name: string; country: string | null };
  agreement: { id: string; feature: string; direction: string };
  purpose: string;
  categories: string[];
  /** Only those of the records asked about. */
  recordIds: string[];
  transferredAt: string;
}

/** Every transfer that included any of the tenant's `recordIds`, oldest first. */
export interface RecordTransfers {
  ofRecords(ctx: RequestContext, tenantId: string, recordIds: readonly string[]): Promise<ExportedTransfer[]>;
}
