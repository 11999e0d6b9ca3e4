import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import { EventType } from "../events/event-type";
import { emit } from "../events/outbox";
import type { RecordRecipients } from "../personal-data/record-sharing";
import type { NoticeKind } from "./sharing.types";
import { noticesOfRecordsSince, raiseNotices } from "./sharing.store";

/**
 * DOMAIN rule 21: when a shared record is deleted or corrected, every agreement it went out
 * under gets a notice for its recipient (one open notice per agreement, record and kind). In
 * the caller's transaction; names the record, never its value. Each agreement's new notices are
 * one `recipient_notice.opened` event, in the same transaction.
 */
export class RecipientNotices implements RecordRecipients {
  async raise(ctx: RequestContext, tenantId: string, recordIds: readonly string[], kind: `${NoticeKind}`): Promise<string[]> {
    if (recordIds.length === 0) return [];
    const raised = await raiseNotices(em(ctx), tenantId, recordIds, kind, ctx.clock.now());
    const byAgreement = new Map<string, typeof raised>();
    for (const notice of raised) byAgreement.set(notice.agreement_id, [...(byAgreement.get(notice.agreement_id) ?? []), notice]);
    for (const [agreementId, notices] of byAgreement) {
      await emit(ctx, tenantId, EventType.RECIPIENT_NOTICE_OPENED, {
        agreementId,
        kind,
        noticeIds: notices.map((n) => n.id),
        recordIds: notices.map((n) => n.record_id),
      });
    }
    return raised.map((n) => n.id);
  }

  /** The notices of `kind` raised for any of `recordIds` since `since`. */
  since(ctx: RequestContext, tenantId: string, recordIds: readonly string[], kind: `${NoticeKind}`, since: Date): Promise<string[]> {
    if (recordIds.length === 0) return Promise.resolve([]);
    return noticesOfRecordsSince(em(ctx), tenantId, recordIds, kind, since);
  }
}
