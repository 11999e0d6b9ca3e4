import { principalOf, type RequestContext } from "../../context";
import { exportRequest } from "./export-policy";
import { em } from "../../shared/db/database";
import { Concurrency } from "../../shared/concurrency";
import { DomainError, NotFoundError } from "../../shared/errors";
import { auditTarget } from "../../shared/audit/audit-draft";
import type { AuditService } from "../audit/audit.service";
import type { DataSubjectService } from "../data-subject/data-subject.service";
import { toDataSubject } from "../data-subject/data-subject.types";
import { ProcessingPurpose } from "../purpose/processing-purpose";
import type { DataSubjectExport, JsonObject } from "./personal-data.types";
import { activeRecordsOfSubject, recordIdsOfSubject } from "./personal-data.store";
import type { RecordTransfers } from "./record-sharing";
import { isShredded, storedValueOf, type SealedValues } from "./sealed-values";

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
    private readonly transfers: RecordTransfers,
    private readonly values: SealedValues,
    /** Told of each export made (a subject request may complete with it). */
    private readonly exported: (ctx: RequestContext, tenantId: string, subjectId: string, at: Date) => Promise<void>,
  ) {}

  async export(ctx: RequestContext, dataSubjectId: string, onRequest: string | null): Promise<DataSubjectExport> {
    auditTarget(ctx, { purpose: ProcessingPurpose.SUBJECT_ACCESS, targetType: "DataSubject", targetId: dataSubjectId });
    const reference = exportRequest(principalOf(ctx).role, onRequest);
    return this.running.run(() => this.build(ctx, dataSubjectId, reference));
  }

  private async build(ctx: RequestContext, dataSubjectId: string, onRequest: string | null): Promise<DataSubjectExport> {
    const subject = await this.subjects.findVisible(ctx, dataSubjectId);
    if (!subject) throw new NotFoundError("data subject");
    const generatedAt = ctx.clock.now();
    // A record corrected while it was being exported would show its new value beside its old
    // version: the rows are read again then (at most twice more), so each shows one version.
    let stored = await activeRecordsOfSubject(em(ctx), subject.tenantId, subject.id);
    let values: Array<JsonObject | DomainError> = [];
    for (let read = 1; ; read++) {
      let corrected = false;
      values = await this.values.open(ctx, stored.map(storedValueOf), () => (corrected = true));
      if (!corrected || read === 3) break;
      stored = await activeRecordsOfSubject(em(ctx), subject.tenantId, subject.id);
    }
    // A record whose key is gone was purged (a restored backup's row): it is not the person's data any more.
    const records: Array<Record<string, unknown>> = stored.flatMap((r, i) => (isShredded(values[i]) ? [] : [{ ...r, value: values[i] }]));
    const identity = await this.subjects.identity(ctx, toDataSubject(subject));
    const document: JsonObject = {
      format: "custodian.data-subject-export/1",
      generatedAt: generatedAt.toISOString(),
      subject: {
        id: subject.id,
        tenantId: subject.tenantId,
        externalId: identity.externalId,
        displayName: identity.displayName,
        status: subject.status,
        createdAt: subject.createdAt.toISOString(),
      },
      records: records.map((r) => ({
        id: r.id,
        category: r.category,
        purposes: r.purposes,
        storageLocation: r.storage_location_code,
        source: r.source_third_party_id ? { thirdPartyId: r.source_third_party_id } : null,
        // A value that failed authentication is not handed out; the document says so in its place.
        ...(r.value instanceof DomainError ? { value: null, valueError: r.value.code } : { value: r.value }),
        version: r.version,
        createdAt: (r.created_at as Date).toISOString(),
        updatedAt: (r.updated_at as Date).toISOString(),
      })),
      // Of every record of the person's, including those pending deletion.
      transfers: await this.transfers.ofRecords(ctx, subject.tenantId, await recordIdsOfSubject(em(ctx), subject.tenantId, subject.id)),
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
    await this.exported(ctx, subject.tenantId, subject.id, generatedAt);
    return { dataSubjectId: subject.id, generatedAt, document };
  }
}
