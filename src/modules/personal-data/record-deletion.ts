import type { RequestContext } from "../../context";
import { em, returning } from "../../shared/db/database";
import type { DeletionPlan } from "../tenant/deletion-plan";
import type { SubjectRecords } from "../data-subject/subject-records";
import { ACTIVELY_DELETABLE_SQL } from "./deletion-policy";
import { recordIdsOfSubject } from "./personal-data.store";
import type { RecordRecipients } from "./record-sharing";

/** Marks records pending active deletion, in the caller's transaction. */
export class RecordDeletion implements SubjectRecords {
  constructor(private readonly recipients: RecordRecipients) {}

  /** Every record of the subject, whatever its state: a recipient is told of each one it received. */
  async noticeErasure(ctx: RequestContext, tenantId: string, subjectId: string): Promise<number> {
    return this.recipients.raise(ctx, tenantId, await recordIdsOfSubject(em(ctx), tenantId, subjectId), "ERASURE");
  }

  /** One record; returns false when it was already actively deleted. */
  async deleteOne(ctx: RequestContext, recordId: string, plan: DeletionPlan): Promise<boolean> {
    const rows = await returning(
      em(ctx),
      `UPDATE personal_data_record
          SET status = 'PENDING_DELETION', deletion_reason = 'ACTIVE_DELETION', deletion_requested_at = $2, purge_due_at = $3,
              version = version + 1, updated_at = $2
        WHERE id = $1 AND ${ACTIVELY_DELETABLE_SQL}
        RETURNING id`,
      [recordId, plan.requestedAt, plan.purgeDueAt],
    );
    return rows.length === 1;
  }

  /** Every record of a subject still deletable; returns how many. */
  async deleteOfSubject(ctx: RequestContext, tenantId: string, subjectId: string, plan: DeletionPlan): Promise<number> {
    const rows = await returning(
      em(ctx),
      `UPDATE personal_data_record
          SET status = 'PENDING_DELETION', deletion_reason = 'ACTIVE_DELETION', deletion_requested_at = $3, purge_due_at = $4,
              version = version + 1, updated_at = $3
        WHERE tenant_id = $1 AND data_subject_id = $2 AND ${ACTIVELY_DELETABLE_SQL}
        RETURNING id`,
      [tenantId, subjectId, plan.requestedAt, plan.purgeDueAt],
    );
    return rows.length;
  }

  /** DOMAIN rule 5: every active record of the tenant becomes pending passive deletion. */
  async deleteOfEndedTenant(ctx: RequestContext, tenantId: string, plan: DeletionPlan): Promise<number> {
    const [{ n }] = await em(ctx).query(
      `WITH marked AS (
         UPDATE personal_data_record
            SET status = 'PENDING_DELETION', deletion_reason = 'PASSIVE_DELETION', deletion_requested_at = $2, purge_due_at = $3,
                version = version + 1, updated_at = $2
          WHERE tenant_id = $1 AND status = 'ACTIVE'
          RETURNING 1)
       SELECT count(*)::int AS n FROM marked`,
      [tenantId, plan.requestedAt, plan.purgeDueAt],
    );
    return n;
  }

  /** DOMAIN rule 7: exactly the records passive deletion took become active again. */
  async restoreOfReactivatedTenant(ctx: RequestContext, tenantId: string, now: Date): Promise<number> {
    const [{ n }] = await em(ctx).query(
      `WITH restored AS (
         UPDATE personal_data_record
            SET status = 'ACTIVE', deletion_reason = NULL, deletion_requested_at = NULL, purge_due_at = NULL,
                version = version + 1, updated_at = $2
          WHERE tenant_id = $1 AND deletion_reason = 'PASSIVE_DELETION'
          RETURNING 1)
       SELECT count(*)::int AS n FROM restored`,
      [tenantId, now],
    );
    return n;
  }
}
