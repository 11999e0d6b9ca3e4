import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import type { DeletionPlan } from "../tenant/deletion-plan";
import type { SubjectRecords } from "../data-subject/subject-records";
import {
  deleteRecord,
  deleteRecordsOfSubject,
  passivelyDeleteRecordsOfTenant,
  recordIdsOfSubject,
  restorePassivelyDeletedRecords,
} from "./personal-data.store";
import type { RecordRecipients } from "./record-sharing";

/** Marks records pending active deletion, in the caller's transaction. */
export class RecordDeletion implements SubjectRecords {
  constructor(private readonly recipients: RecordRecipients) {}

  /** Every record of the subject, whatever its state: a recipient is told of each one it received. */
  async noticeErasure(ctx: RequestContext, tenantId: string, subjectId: string): Promise<string[]> {
    return this.recipients.raise(ctx, tenantId, await recordIdsOfSubject(em(ctx), tenantId, subjectId), "ERASURE");
  }

  /** One record; returns false when it was already actively deleted. */
  deleteOne(ctx: RequestContext, recordId: string, plan: DeletionPlan): Promise<boolean> {
    return deleteRecord(em(ctx), recordId, plan);
  }

  /** Every record of a subject still deletable; returns how many. */
  deleteOfSubject(ctx: RequestContext, tenantId: string, subjectId: string, plan: DeletionPlan): Promise<number> {
    return deleteRecordsOfSubject(em(ctx), tenantId, subjectId, plan);
  }

  /** DOMAIN rule 5: every active record of the tenant becomes pending passive deletion. */
  deleteOfEndedTenant(ctx: RequestContext, tenantId: string, plan: DeletionPlan): Promise<number> {
    return passivelyDeleteRecordsOfTenant(em(ctx), tenantId, plan);
  }

  /** DOMAIN rule 7: exactly the records passive deletion took become active again. */
  restoreOfReactivatedTenant(ctx: RequestContext, tenantId: string, now: Date): Promise<number> {
    return restorePassivelyDeletedRecords(em(ctx), tenantId, now);
  }
}
