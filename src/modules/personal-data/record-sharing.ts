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
  /** Raises a notice per agreement each record went out under; returns how many were raised. */
  raise(ctx: RequestContext, tenantId: string, recordIds: readonly string[], kind: "ERASURE" | "RECTIFICATION"): Promise<number>;
}
