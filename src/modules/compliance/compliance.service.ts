import { onControl, onTenant, type RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import { DataLoader } from "../../shared/loaders";
import { entriesBeforeCountSql } from "../audit/audit-chain.store";
import { purgeDueSubjectIdsSql } from "../data-subject/data-subject.store";
import { unacknowledgedNotificationCountSql } from "../incident/incident.store";
import { recordFiguresSql } from "../personal-data/personal-data.store";
import { agreementCountSql } from "../sharing/sharing.store";
import { requestCountsSql } from "../subject-request/subject-request.store";
import { auditRetentionDaysSql, tenantLocationSql, tenantPurgeIsDueSql } from "../tenant/tenant.store";
import { ComplianceReport } from "./compliance.types";

/**
 * The compliance report: counts in one statement composed of each feature's fragments, with the
 * service clock as the reference time. A record of an ended tenant past its data purge date, or of a deleted
 * subject past the subject's, is overdue whatever its own due date says: that purge takes it
 * (and a record still ACTIVE there is one a purge is stuck on).
 */
export class ComplianceService {
  /** The tenant's report; every tenant of the request asking for one is reported at once. */
  async report(request: RequestContext, tenantId: string): Promise<ComplianceReport> {
    // The tenant's figures where its data is; its breach notifications from control.
    const ctx = await onTenant(request, tenantId);
    const [report, unacknowledged] = await Promise.all([
      ctx.loaders.get(ctx, reportLoader).load(tenantId),
      onControl(request).then((control) => control.loaders.get(control, unacknowledgedLoader).load(tenantId)),
    ]);
    return Object.assign(report, { unacknowledgedBreachNotifications: unacknowledged });
  }
}

/** Each tenant's unacknowledged breach notifications, counted in control for every tenant the request reports on. */
function unacknowledgedLoader(ctx: RequestContext) {
  return new DataLoader<string, number>(async (tenantIds) => {
    const t = "tenants.id";
    const rows: Array<{ tenant_id: string; n: number }> = await em(ctx).query(
      `SELECT ${t} AS tenant_id, ${unacknowledgedNotificationCountSql(t)}::int AS n FROM unnest($1::uuid[]) AS tenants(id)`,
      [[...tenantIds]],
    );
    return tenantIds.map((id) => rows.find((r) => r.tenant_id === id)?.n ?? 0);
  });
}

function reportLoader(ctx: RequestContext) {
  return new DataLoader<string, ComplianceReport>(async (tenantIds) => {
    const now = ctx.clock.now();
    const t = "tenants.id";
    const records = recordFiguresSql(t, "$2", {
      tenantPurgeDue: tenantPurgeIsDueSql(t, "$2"),
      purgeDueSubjects: purgeDueSubjectIdsSql(t, "$2"),
      locationSql: tenantLocationSql(t),
    });
    const requests = requestCountsSql(t, "$2");
    const rows: Array<Record<string, unknown>> = await em(ctx).query(
      `SELECT ${t} AS tenant_id, ${records.active}::int AS active, ${records.pending}::int AS pending, ${records.overdue}::int AS overdue,
              ${records.oldestDue} AS oldest_due, ${records.residency}::int AS residency,
              ${entriesBeforeCountSql(t, `$2::timestamptz - make_interval(days => ${auditRetentionDaysSql(t)})`)}::int AS audit_beyond,
              ${agreementCountSql(t, "'PENDING_CONSENT'")}::int AS pending_consent,
              ${agreementCountSql(t, "'SUSPENDED'")}::int AS suspended,
              ${requests.open}::int AS open_requests, ${requests.overdue}::int AS overdue_requests
         FROM unnest($1::uuid[]) AS tenants(id)`,
      [[...tenantIds], now],
    );
    return tenantIds.map((id) =>
      toReport(
        rows.find((r) => r.tenant_id === id)!,
        now,
      ),
    );
  });
}

function toReport(row: Record<string, unknown>, now: Date): ComplianceReport {
  return Object.assign(new ComplianceReport(), {
    generatedAt: now,
    activeRecords: row.active,
    pendingDeletionRecords: row.pending,
    overdueDeletions: row.overdue,
    oldestPurgeDueAt: row.oldest_due,
    auditEntriesBeyondRetention: row.audit_beyond,
    agreementsPendingConsent: row.pending_consent,
    suspendedAgreements: row.suspended,
    unacknowledgedBreachNotifications: 0,
    residencyViolations: row.residency,
    openSubjectRequests: row.open_requests,
    overdueSubjectRequests: row.overdue_requests,
  });
}
