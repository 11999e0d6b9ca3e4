import type { RequestContext } from "../../context";
import { principalOf } from "../../context";
import { em } from "../../shared/db/database";
import { DomainError, ErrorCode } from "../../shared/errors";
import { DataLoader } from "../../shared/loaders";
import type { ReadAuditDraft } from "../audit/audit-draft";
import type { AuditService } from "../audit/audit.service";
import type { ProcessingPurpose } from "../purpose/processing-purpose";
import type { RecordStatus } from "./personal-data.enums";
import type { JsonObject } from "./personal-data.types";
import { valueReadRefusal } from "./read-policy";

export const VALUE_READ_ACTION = "RECORD_VALUE_READ";

const REFUSALS: Record<string, string> = {
  [ErrorCode.FORBIDDEN]: "Your role never reads personal data values.",
  [ErrorCode.PURPOSE_PROHIBITED]: "Personal data is never read for profiling or marketing.",
  [ErrorCode.NOT_FOUND]: "No record with that id exists in your scope.",
  [ErrorCode.RECORD_PENDING_DELETION]: "The record is pending deletion: it can no longer be read, corrected or shared.",
  [ErrorCode.PURPOSE_NOT_PERMITTED]: "The record was not collected for this purpose; read it for one of its purposes (a data subject reads with SUBJECT_ACCESS).",
};

interface Row {
  id: string;
  tenant_id: string;
  data_subject_id: string;
  purposes: ProcessingPurpose[];
  status: RecordStatus;
  value: JsonObject;
}

/**
 * Purpose-bound value reads (DOMAIN rules 11, 12, 26). Every value field of a request that
 * asks for the same purpose is batched into one load: one query, then one audit entry per
 * tenant and outcome listing the record ids, written before any value is handed out. A page of
 * 500 values read for one purpose writes one audit row.
 */
export class ValueReader {
  private readonly factories = new Map<ProcessingPurpose, (ctx: RequestContext) => DataLoader<string, JsonObject>>();

  constructor(private readonly audit: AuditService) {}

  read(ctx: RequestContext, recordId: string, purpose: ProcessingPurpose): Promise<JsonObject> {
    let factory = this.factories.get(purpose);
    if (!factory) {
      factory = (c: RequestContext) => new DataLoader<string, JsonObject>((ids) => this.load(c, purpose, ids), { maxBatchSize: 1000 });
      this.factories.set(purpose, factory);
    }
    return ctx.loaders.get(ctx, factory).load(recordId);
  }

  private async load(ctx: RequestContext, purpose: ProcessingPurpose, ids: readonly string[]): Promise<Array<JsonObject | Error>> {
    const principal = principalOf(ctx);
    const rows: Row[] = await em(ctx).query(
      `SELECT id, tenant_id, data_subject_id, purposes, status, value FROM personal_data_record WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    const decisions = ids.map((id) => {
      const row = byId.get(id);
      const code = row
        ? valueReadRefusal(principal, purpose, { tenantId: row.tenant_id, dataSubjectId: row.data_subject_id, purposes: row.purposes, status: row.status })
        : ErrorCode.NOT_FOUND;
      // A refusal for another tenant's record goes to the caller's chain: that tenant's log must not learn of the caller.
      const tenantId = row && code !== ErrorCode.NOT_FOUND ? row.tenant_id : principal.tenantId;
      return { id, row, code, tenantId };
    });

    const groups = new Map<string, ReadAuditDraft & { details: { recordIds: string[] } }>();
    for (const d of decisions) {
      const groupKey = `${d.tenantId}/${d.code}`;
      let group = groups.get(groupKey);
      if (!group) {
        group = { tenantId: d.tenantId, action: VALUE_READ_ACTION, purpose, errorCode: d.code, targetType: "PersonalDataRecord", details: { recordIds: [] } };
        groups.set(groupKey, group);
      }
      group.details.recordIds.push(d.id);
    }
    await this.audit.appendReads(
      ctx,
      [...groups.values()].map((g) => ({ ...g, targetId: g.details.recordIds.length === 1 ? g.details.recordIds[0] : null })),
    );
    return decisions.map((d) => (d.code ? new DomainError(d.code, REFUSALS[d.code]) : d.row!.value));
  }
}
