import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import { DomainError } from "../../shared/errors";
import type { DataCategory } from "../personal-data/personal-data.enums";
import type { InboundSources, SourcedItem } from "../personal-data/record-sharing";
import type { ThirdPartyService } from "../third-party/third-party.service";
import { inboundRefusal, type AgreementFacts } from "./sharing-policy";
import { inboundAgreementsHeld } from "./sharing.store";
import { PartyErrors } from "../third-party/third-party.errors";

/**
 * DOMAIN rule 19 for records being collected: each record naming a source needs an ACTIVE
 * INBOUND agreement of the tenant with that party covering its category. The agreements are
 * held shared until the write commits, so a revocation waits for it or is seen by it.
 */
export class InboundCheck implements InboundSources {
  constructor(private readonly parties: ThirdPartyService) {}

  async check(ctx: RequestContext, tenantId: string, items: readonly SourcedItem[], fieldOf: (index: number) => string, batch: boolean): Promise<void> {
    const sources = [...new Set(items.map((i) => i.sourceThirdPartyId).filter((s): s is string => !!s))];
    if (sources.length === 0) return;
    const parties = (await Promise.all(sources.map((id) => this.parties.byId(ctx, id)))).filter((p) => p !== null);
    const agreements = await inboundAgreementsHeld(em(ctx), tenantId, sources);
    const partyById = new Map(
      parties.map((p) => [p.id, { role: p.role, listedAsSubprocessor: p.listedAsSubprocessor, dataSharingProhibited: p.dataSharingProhibited }]),
    );
    for (const [index, item] of items.entries()) {
      if (!item.sourceThirdPartyId) continue;
      const extra = batch ? { index } : {};
      const party = partyById.get(item.sourceThirdPartyId);
      if (!party) throw PartyErrors.unknown({ field: fieldOf(index), ...extra });
      const facts: AgreementFacts[] = agreements
        .filter((a) => a.third_party_id === item.sourceThirdPartyId)
        .map((a) => ({
          status: a.status,
          direction: a.direction,
          dataCategories: a.data_categories,
          purposes: a.purposes,
          consentCategories: a.consent_categories,
          consentPurposes: a.consent_purposes,
        }));
      const refusal = inboundRefusal(facts, party, item.category as DataCategory);
      if (refusal) throw new DomainError(refusal.code, refusal.reason, { field: fieldOf(index), ...extra });
    }
  }
}
