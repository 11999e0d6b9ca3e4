import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import type { RecordRecipients } from "../personal-data/record-sharing";
import type { NoticeKind } from "./sharing.types";

/**
 * DOMAIN rule 21: when a shared record is deleted or corrected, every agreement it went out
 * under gets a notice for its recipient (one open notice per agreement, record and kind). In
 * the caller's transaction; names the record, never its value.
 */
export class RecipientNotices implements RecordRecipients {
  async raise(ctx: RequestContext, tenantId: string, recordIds: readonly string[], kind: `${NoticeKind}`): Promise<number> {
    if (recordIds.length === 0) return 0;
    const [{ n }] = await em(ctx).query(
      `WITH raised AS (
         INSERT INTO recipient_notice (id, tenant_id, agreement_id, record_id, kind, created_at)
         SELECT gen_random_uuid(), $1, shared.agreement_id, shared.record_id, $3, $4
           FROM (SELECT DISTINCT t.agreement_id, r AS record_id
                   FROM data_transfer t, unnest(t.record_ids) AS r
                  WHERE t.tenant_id = $1 AND t.record_ids && $2::uuid[] AND r = ANY($2::uuid[])) shared
         ON CONFLICT (agreement_id, record_id, kind) WHERE confirmed_at IS NULL DO NOTHING
         RETURNING 1)
       SELECT count(*)::int AS n FROM raised`,
      [tenantId, recordIds, kind, ctx.clock.now()],
    );
    return n;
  }
}
