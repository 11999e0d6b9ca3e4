import type { RequestContext } from "../../context";
import type { DeletionPlan } from "../tenant/deletion-plan";

/**
 * What a subject's deletion does to its records (DOMAIN rules 4 and 21). Personal data depends
 * on data subjects, so this feature names what it needs and schema.ts hands in personal data's.
 */
export interface SubjectRecords {
  /** Marks every record of the subject still deletable as pending deletion under `plan`; returns how many. */
  deleteOfSubject(ctx: RequestContext, tenantId: string, subjectId: string, plan: DeletionPlan): Promise<number>;
  /** Raises an erasure notice for each agreement any of the subject's records went out under; returns their ids. */
  noticeErasure(ctx: RequestContext, tenantId: string, subjectId: string): Promise<string[]>;
}
