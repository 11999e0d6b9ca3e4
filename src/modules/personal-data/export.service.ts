import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import { NotFoundError } from "../../shared/errors";
import { auditTarget } from "../audit/audit-draft";
import type { AuditService } from "../audit/audit.service";
import type { DataSubjectService } from "../data-subject/data-subject.service";
import { ProcessingPurpose } from "../purpose/processing-purpose";
import type { DataSubjectExport, JsonObject } from "./personal-data.types";

export const EXPORT_ACTION = "DATA_SUBJECT_EXPORTED";

/**
 * DOMAIN rule 14: everything held about a person as one document, for the person themselves
 * (or their tenant's administrator acting on a request). Audited as a SUBJECT_ACCESS read that
 * lists the records it handed out.
 */
export class ExportService {
  constructor(
    private readonly subjects: DataSubjectService,
    private readonly audit: AuditService,
  ) {}

  async export(ctx: RequestContext, dataSubjectId: string): Promise<DataSubjectExport> {
    auditTarget(ctx, { purpose: ProcessingPurpose.SUBJECT_ACCESS, targetType: "DataSubject", targetId: dataSubjectId });
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
      // Filled by the sharing feature: every transfer of these records to a third party.
      transfers: [],
    };
    await this.audit.appendReads(ctx, [
      {
        tenantId: subject.tenantId,
        action: EXPORT_ACTION,
        purpose: ProcessingPurpose.SUBJECT_ACCESS,
        targetType: "DataSubject",
        targetId: subject.id,
        details: { recordIds: records.map((r) => r.id as string) },
      },
    ]);
    return { dataSubjectId: subject.id, generatedAt, document };
  }
}
