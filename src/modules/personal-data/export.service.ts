import { principalOf, type RequestContext } from "../../context";
import { exportRequest } from "./export-policy";
import { em } from "../../shared/db/database";
import { Concurrency } from "../../shared/concurrency";
import { NotFoundError } from "../../shared/errors";
import { auditTarget } from "../../shared/audit/audit-draft";
import type { AuditService } from "../audit/audit.service";
import type { DataSubjectService } from "../data-subject/data-subject.service";
import { ProcessingPurpose } from "../purpose/processing-purpose";
import type { DataSubjectExport, JsonObject } from "./personal-data.types";

interface TransferRow {
  id: string;
  agreement_id: string;
  feature: string;
  direction: string;
  third_party_id: string;
  third_party_name: string;
  country: string | null;
  purpose: string;
  categories: string[];
  created_at: Date;
  record_ids: string[];
}

export const EXPORT_ACTION = "DATA_SUBJECT_EXPORTED";

/**
 * Exports one process builds at once: each holds a person's every value in memory, and eight
 * concurrent exports of 18.5 MB took the process to 1.8 GB. More are refused, retryable.
 */
export const MAX_CONCURRENT_EXPORTS = 2;

/**
 * DOMAIN rule 14: everything held about a person as one document, for the person themselves, or
 * for their tenant's administrator on the person's request (see exportRequest). Audited as a
 * SUBJECT_ACCESS read that lists the records it handed out and the request it answered.
 */
export class ExportService {
  private readonly running = new Concurrency(MAX_CONCURRENT_EXPORTS, "exports");

  constructor(
    private readonly subjects: DataSubjectService,
    private readonly audit: AuditService,
  ) {}

  /** Every transfer of any of the subject's records: to whom, under what, why, what and when. */
  private async transfersOf(ctx: RequestContext, tenantId: string, subjectId: string) {
    const rows: TransferRow[] = await em(ctx).query(
      `WITH mine AS (SELECT coalesce(array_agg(id), '{}') AS ids FROM personal_data_record WHERE tenant_id = $1 AND data_subject_id = $2)
       SELECT t.id, t.agreement_id, a.feature, a.direction, p.id AS third_party_id, p.name AS third_party_name, p.country,
              t.purpose, t.categories, t.created_at,
              ARRAY(SELECT r FROM unnest(t.record_ids) AS r WHERE r = ANY(mine.ids)) AS record_ids
         FROM mine, data_transfer t JOIN sharing_agreement a ON a.id = t.agreement_id JOIN third_party p ON p.id = a.third_party_id
        WHERE t.tenant_id = $1 AND t.record_ids && mine.ids
        ORDER BY t.created_at, t.id`,
      [tenantId, subjectId],
    );
    return rows.map((t) => ({
      id: t.id,
      thirdParty: { id: t.third_party_id, name: t.third_party_name, country: t.country },
      agreement: { id: t.agreement_id, feature: t.feature, direction: t.direction },
      purpose: t.purpose,
      categories: t.categories,
      recordIds: t.record_ids,
      transferredAt: (t.created_at as Date).toISOString(),
    }));
  }

  async export(ctx: RequestContext, dataSubjectId: string, onRequest: string | null): Promise<DataSubjectExport> {
    auditTarget(ctx, { purpose: ProcessingPurpose.SUBJECT_ACCESS, targetType: "DataSubject", targetId: dataSubjectId });
    const reference = exportRequest(principalOf(ctx).role, onRequest);
    return this.running.run(() => this.build(ctx, dataSubjectId, reference));
  }

  private async build(ctx: RequestContext, dataSubjectId: string, onRequest: string | null): Promise<DataSubjectExport> {
    const subject = await this.subjects.findVisible(ctx, dataSubjectId);
    if (!subject) throw new NotFoundError("data subject");
    const generatedAt = ctx.clock.now();
    const records: Array<Record<string, unknown>> = await em(ctx).query(
      `SELECT id, category, purposes, storage_location_code, source_third_party_id, value, version, created_at, updated_at
         FROM personal_data_record
        WHERE tenant_id = $1 AND data_subject_id = $2 AND status = 'ACTIVE'
        ORDER BY created_at, id`,
      [subject.tenantId, subject.id],
    );
    const document: JsonObject = {
      format: "custodian.data-subject-export/1",
      generatedAt: generatedAt.toISOString(),
      subject: {
        id: subject.id,
        tenantId: subject.tenantId,
        externalId: subject.externalId,
        displayName: subject.displayName,
        status: subject.status,
        createdAt: subject.createdAt.toISOString(),
      },
      records: records.map((r) => ({
        id: r.id,
        category: r.category,
        purposes: r.purposes,
        storageLocation: r.storage_location_code,
        source: r.source_third_party_id ? { thirdPartyId: r.source_third_party_id } : null,
        value: r.value,
        version: r.version,
        createdAt: (r.created_at as Date).toISOString(),
        updatedAt: (r.updated_at as Date).toISOString(),
      })),
      transfers: await this.transfersOf(ctx, subject.tenantId, subject.id),
    };
    await this.audit.appendReads(ctx, [
      {
        tenantId: subject.tenantId,
        action: EXPORT_ACTION,
        purpose: ProcessingPurpose.SUBJECT_ACCESS,
        targetType: "DataSubject",
        targetId: subject.id,
        details: { recordIds: records.map((r) => r.id as string), ...(onRequest ? { onRequest } : {}) },
      },
    ]);
    return { dataSubjectId: subject.id, generatedAt, document };
  }
}
