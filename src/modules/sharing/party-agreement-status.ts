import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import type { PartyAgreements } from "../third-party/party-agreements";
import { moveAgreementsOfParty } from "./sharing.store";

/** Sharing's side of a subprocessor listing change (DOMAIN rule 20), in the caller's transaction. */
export class PartyAgreementStatus implements PartyAgreements {
  moveStatus(ctx: RequestContext, partyId: string, from: "ACTIVE" | "SUSPENDED", to: "ACTIVE" | "SUSPENDED", now: Date) {
    return moveAgreementsOfParty(em(ctx), partyId, from, to, now);
  }
}
