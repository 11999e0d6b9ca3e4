import type { RequestContext } from "../../context";

/**
 * DOMAIN rule 20: when a party leaves the subprocessor list, its active agreements are suspended
 * (and reactivated when it returns). Sharing depends on third parties, so this feature names what
 * it needs and schema.ts hands in sharing's.
 */
export interface PartyAgreements {
  /** Moves every agreement with the party from `from` to `to`; returns those changed, by tenant then id. */
  moveStatus(
    ctx: RequestContext,
    partyId: string,
    from: "ACTIVE" | "SUSPENDED",
    to: "ACTIVE" | "SUSPENDED",
    now: Date,
  ): Promise<Array<{ id: string; tenantId: string }>>;
}
