import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import type { RecordRecipients } from "../personal-data/record-sharing";
import type { NoticeKind } from "./sharing.types";
import { raiseNotices } from "./sharing.store";

/**
 * DOMAIN rule 21: when a shared record is deleted or corrected, every agreement it went out
 * under gets a notice for its recipient (one open notice per agreement, record and kind). In
 * the caller's transaction; names the record, never its value.
 */
export class RecipientNotices implements RecordRecipients {
  async raise(ctx: RequestContext, tenantId: string, recordIds: readonly string[], kind: `${NoticeKind}`): Promise<number> {
    if (recordIds.length === 0) return 0;
    return raiseNotices(em(ctx), tenantId, recordIds, kind, ctx.clock.now());
  }
}
