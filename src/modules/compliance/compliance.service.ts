import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import { CHAIN_KEY_SQL } from "../audit/audit-chain.store";
import { tenantPurgeDueSql } from "../tenant/tenant.policy";
import { ComplianceReport } from "./compliance.types";

/**
 * The compliance report: counts in one statement, with the service clock as
 * the reference time. A record of an ended tenant past its data purge date, or of a deleted
 * subject past the subject's, is overdue whatever its own due date says: that purge takes it
 * (and a record still ACTIVE there is one a purge is stuck on).
 */
export class ComplianceService {
  async report(ctx: RequestContext, tenantId: string): Promise<ComplianceReport> {
    const now = ctx.clock.now();
    const [row] = await em(ctx).query(
      `WITH t AS (SELECT * FROM tenant WHERE id = $1),
            r AS (SELECT status, purge_due_at, storage_location_code, data_subject_id FROM personal_data_record WHERE tenant_id = $1),
            gone AS (SELECT id FROM data_subject WHERE tenant_id = $1 AND status = 'DELETED' AND purge_due_at <= $2)
       SELECT
         (SELECT count(*) FROM r WHERE status = 'ACTIVE')::int AS active,
         (SELECT count(*) FROM r WHERE status = 'PENDING_DELETION')::int AS pending,
         (SELECT count(*) FROM r, t
           WHERE (r.status = 'PENDING_DELETION' AND r.purge_due_at <= $2)
              OR (${tenantPurgeDueSql("t", "$2")})
              OR r.data_subject_id IN (SELECT id FROM gone))::int AS overdue,
         (SELECT min(purge_due_at) FROM r WHERE status = 'PENDING_DELETION') AS oldest_due,
         (SELECT count(*) FROM audit_log a, t
           WHERE ${CHAIN_KEY_SQL} = $1 AND a.occurred_at < $2::timestamptz - make_interval(days => t.audit_log_retention_days))::int AS audit_beyond,
         (SELECT count(*) FROM r, t WHERE r.storage_location_code <> t.storage_location_code)::int AS residency,
         (SELECT count(*) FROM sharing_agreement WHERE tenant_id = $1 AND status = 'PENDING_CONSENT')::int AS pending_consent,
         (SELECT count(*) FROM sharing_agreement WHERE tenant_id = $1 AND status = 'SUSPENDED')::int AS suspended,
         (SELECT count(*) FROM breach_notification WHERE tenant_id = $1 AND acknowledged_at IS NULL)::int AS unacknowledged`,
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
