import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import { entriesBeforeCountSql } from "../audit/audit-chain.store";
import { purgeDueSubjectIdsSql } from "../data-subject/data-subject.store";
import { unacknowledgedNotificationCountSql } from "../incident/incident.store";
import { recordFiguresSql } from "../personal-data/personal-data.store";
import { agreementCountSql } from "../sharing/sharing.store";
import { auditRetentionDaysSql, tenantLocationSql, tenantPurgeIsDueSql } from "../tenant/tenant.store";
import { ComplianceReport } from "./compliance.types";

/**
 * The compliance report: counts in one statement composed of each feature's fragments, with the
 * service clock as the reference time. A record of an ended tenant past its data purge date, or of a deleted
 * subject past the subject's, is overdue whatever its own due date says: that purge takes it
 * (and a record still ACTIVE there is one a purge is stuck on).
 */
export class ComplianceService {
  async report(ctx: RequestContext, tenantId: string): Promise<ComplianceReport> {
    const now = ctx.clock.now();
    const records = recordFiguresSql("$1", "$2", {
      tenantPurgeDue: tenantPurgeIsDueSql("$1", "$2"),
      purgeDueSubjects: purgeDueSubjectIdsSql("$1", "$2"),
      locationSql: tenantLocationSql("$1"),
    });
    const [row] = await em(ctx).query(
      `SELECT ${records.active}::int AS active, ${records.pending}::int AS pending, ${records.overdue}::int AS overdue,
              ${records.oldestDue} AS oldest_due, ${records.residency}::int AS residency,
              ${entriesBeforeCountSql("$1", `$2::timestamptz - make_interval(days => ${auditRetentionDaysSql("$1")})`)}::int AS audit_beyond,
              ${agreementCountSql("$1", "'PENDING_CONSENT'")}::int AS pending_consent,
              ${agreementCountSql("$1", "'SUSPENDED'")}::int AS suspended,
              ${unacknowledgedNotificationCountSql("$1")}::int AS unacknowledged`,
      [tenantId, now],
    );
    return Object.assign(new ComplianceReport(), {
      generatedAt: now,
      activeRecords: row.active,
      pendingDeletionRecords: row.pending,
      overdueDeletions: row.overdue,
      oldestPurgeDueAt: row.oldest_due,
      auditEntriesBeyondRetention: row.audit_beyond,
      agreementsPendingConsent: row.pending_consent,
      suspendedAgreements: row.suspended,
      unacknowledgedBreachNotifications: row.unacknowledged,
      residencyViolations: row.residency,
    });
  }
}
