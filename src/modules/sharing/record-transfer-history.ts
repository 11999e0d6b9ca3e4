import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import type { ExportedTransfer, RecordTransfers } from "../personal-data/record-sharing";
import type { ThirdPartyService } from "../third-party/third-party.service";
import { transfersOfRecords } from "./sharing.store";

/** Sharing's side of a subject's export: the transfers of its records, with their recipients. */
export class RecordTransferHistory implements RecordTransfers {
  constructor(private readonly parties: ThirdPartyService) {}

  async ofRecords(ctx: RequestContext, tenantId: string, recordIds: readonly string[]): Promise<ExportedTransfer[]> {
    if (recordIds.length === 0) return [];
    const rows = await transfersOfRecords(em(ctx), tenantId, recordIds);
    const parties = new Map((await Promise.all([...new Set(rows.map((t) => t.thirdPartyId))].map((id) => this.parties.byId(ctx, id)))).map((p) => [p!.id, p!]));
    return rows.map((t) => {
      const party = parties.get(t.thirdPartyId)!;
      return {
        id: t.id,
        thirdParty: { id: party.id, name: party.name, country: party.country },
        agreement: { id: t.agreementId, feature: t.feature, direction: t.direction },
        purpose: t.purpose,
        categories: t.categories,
        recordIds: t.recordIds,
        transferredAt: t.createdAt.toISOString(),
      };
    });
  }
}
