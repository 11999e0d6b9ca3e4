import type { DataSource, EntityManager } from "typeorm";
import type { Clock } from "../../shared/clock";
import type { AuditDetails } from "../audit/audit-draft";
import { AuditRetention, RETENTION_ACTOR } from "../audit/audit-retention";
import type { AuditService } from "../audit/audit.service";
import { RetentionRun } from "./retention.types";

/** Rows a batch deletes; each batch is a transaction of its own. */
export const DEFAULT_BATCH_SIZE = 5000;

/** Records whose purge is due: pending and past purgeDueAt (DOMAIN rule 6). */
const DUE_RECORDS = `status = 'PENDING_DELETION' AND purge_due_at <= $1`;
/** Ended tenants whose data purge is due (DOMAIN rule 5). */
const DUE_TENANTS = `subscription_status = 'ENDED' AND data_purge_due_at <= $1`;

/**
 * The retention engine (DOMAIN rules 5-10). Everything is deleted in the database, in batches
 * that are transactions of their own, picking rows with FOR UPDATE SKIP LOCKED: two runs at
 * once take different rows and count each once; a crash loses only the uncommitted batch, which
 * the next run redoes; nothing is ever deleted before it is due. `now` is always the service
 * clock, passed into the queries (rule 10). Each batch writes one audit entry per tenant.
 */
export class RetentionService {
  private readonly auditRetention: AuditRetention;

  constructor(
    private readonly db: DataSource,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly batchSize = DEFAULT_BATCH_SIZE,
  ) {
    this.auditRetention = new AuditRetention(db, audit, batchSize);
  }

  async run(options: { dryRun: boolean }): Promise<RetentionRun> {
    const startedAt = this.clock.now();
    const counts = options.dryRun ? await this.count(startedAt) : await this.purge(startedAt);
    // Audit entries last: the entries this run wrote are new and never expire in the same run.
    const auditEntriesPurged = await this.auditRetention.purge(startedAt, options);
    return Object.assign(new RetentionRun(), { dryRun: options.dryRun, startedAt, finishedAt: this.clock.now(), ...counts, auditEntriesPurged });
  }

  private async purge(now: Date) {
    let recordsPurged = 0;
    let dataSubjectsPurged = 0;
    let idempotencyKeysPurged = 0;
    let tenantsPurged = 0;

    // 1. Records past their due date, any tenant.
    for (;;) {
      const n = await this.batch(now, "RECORDS_PURGED", `
        WITH gone AS (
          DELETE FROM personal_data_record WHERE id IN (
            SELECT id FROM personal_data_record WHERE ${DUE_RECORDS} LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING tenant_id)
        SELECT tenant_id, count(*)::int AS n FROM gone GROUP BY tenant_id`);
      recordsPurged += n;
      if (n < this.batchSize) break;
    }

    // 2. Ended tenants past their purge date: every record, subject and key, then the tombstone.
    for (;;) {
      const step = await this.purgeOneDueTenant(now);
      if (!step) break;
      recordsPurged += step.records;
      dataSubjectsPurged += step.subjects;
      idempotencyKeysPurged += step.keys;
      tenantsPurged += step.purged ? 1 : 0;
    }

    // 3. Deleted subjects once due and without records left.
    for (;;) {
      const n = await this.batch(now, "DATA_SUBJECTS_PURGED", `
        WITH gone AS (
          DELETE FROM data_subject WHERE id IN (
            SELECT s.id FROM data_subject s
             WHERE s.status = 'DELETED' AND s.purge_due_at <= $1
               AND NOT EXISTS (SELECT 1 FROM personal_data_record r WHERE r.tenant_id = s.tenant_id AND r.data_subject_id = s.id)
             LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING tenant_id)
        SELECT tenant_id, count(*)::int AS n FROM gone GROUP BY tenant_id`);
      dataSubjectsPurged += n;
      if (n < this.batchSize) break;
    }

    // 4. Idempotency keys past their 24 hours (they name no values, but need not stay).
    for (;;) {
      const [{ n }] = await this.db.query(
        `WITH gone AS (
           DELETE FROM idempotency_key WHERE (tenant_id, key) IN (
             SELECT tenant_id, key FROM idempotency_key WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [now, this.batchSize],
      );
      idempotencyKeysPurged += n;
      if (n < this.batchSize) break;
    }
    return { recordsPurged, dataSubjectsPurged, tenantsPurged, idempotencyKeysPurged };
  }

  /** One batch: the statement returns (tenant_id, n) rows; each tenant's chain gets an entry. */
  private batch(now: Date, action: string, sql: string): Promise<number> {
    return this.db.transaction(async (manager) => {
      const rows: Array<{ tenant_id: string; n: number }> = await manager.query(sql, [now, this.batchSize]);
      for (const row of rows) await this.record(manager, now, row.tenant_id, action, { count: row.n });
      return rows.reduce((sum, r) => sum + r.n, 0);
    });
  }

  /**
   * One batch of the purge of one ended tenant, holding its row (SKIP LOCKED: another instance
   * takes another tenant). Records first, then subjects, then keys; when nothing is left, the
   * tenant becomes PURGED. Returns null when no tenant is due.
   */
  private purgeOneDueTenant(now: Date) {
    return this.db.transaction(async (manager) => {
      const [tenant]: Array<{ id: string }> = await manager.query(
        `SELECT id FROM tenant WHERE ${DUE_TENANTS} ORDER BY data_purge_due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [now],
      );
      if (!tenant) return null;
      const step = { records: 0, subjects: 0, keys: 0, purged: false };
      step.records = await this.deleteCounted(manager, `DELETE FROM personal_data_record WHERE id IN (SELECT id FROM personal_data_record WHERE tenant_id = $1 LIMIT $2)`, tenant.id);
      if (step.records < this.batchSize) {
        step.subjects = await this.deleteCounted(manager, `DELETE FROM data_subject WHERE id IN (SELECT id FROM data_subject WHERE tenant_id = $1 LIMIT $2)`, tenant.id);
      }
      if (step.records + step.subjects < this.batchSize) {
        step.keys = await this.deleteCounted(manager, `DELETE FROM idempotency_key WHERE (tenant_id, key) IN (SELECT tenant_id, key FROM idempotency_key WHERE tenant_id = $1 LIMIT $2)`, tenant.id);
      }
      if (step.records + step.subjects + step.keys < this.batchSize) {
        await manager.query(`UPDATE tenant SET subscription_status = 'PURGED', updated_at = $2, version = version + 1 WHERE id = $1`, [tenant.id, now]);
        step.purged = true;
      }
      await this.record(manager, now, tenant.id, step.purged ? "TENANT_PURGED" : "TENANT_PURGE_PROGRESSED", {
        recordsPurged: step.records,
        dataSubjectsPurged: step.subjects,
        idempotencyKeysPurged: step.keys,
      });
      return step;
    });
  }

  private async deleteCounted(manager: EntityManager, deleteSql: string, tenantId: string): Promise<number> {
    const [{ n }] = await manager.query(`WITH gone AS (${deleteSql} RETURNING 1) SELECT count(*)::int AS n FROM gone`, [tenantId, this.batchSize]);
    return n;
  }

  private record(manager: EntityManager, now: Date, tenantId: string, action: string, details: AuditDetails) {
    return this.audit.append(manager, { tenantId, occurredAt: now, actor: RETENTION_ACTOR, action, targetType: "Tenant", targetId: tenantId, outcome: "ALLOWED", details });
  }

  /** What `purge` would delete now, counted with the same conditions, changing nothing. */
  private async count(now: Date) {
    const [row] = await this.db.query(
      `SELECT
         (SELECT count(*) FROM personal_data_record r
           WHERE (r.status = 'PENDING_DELETION' AND r.purge_due_at <= $1)
              OR r.tenant_id IN (SELECT id FROM tenant WHERE ${DUE_TENANTS}))::int AS records,
         (SELECT count(*) FROM data_subject s
           WHERE s.tenant_id IN (SELECT id FROM tenant WHERE ${DUE_TENANTS})
              OR (s.status = 'DELETED' AND s.purge_due_at <= $1
                  AND NOT EXISTS (SELECT 1 FROM personal_data_record r
                                   WHERE r.tenant_id = s.tenant_id AND r.data_subject_id = s.id
                                     AND NOT (r.status = 'PENDING_DELETION' AND r.purge_due_at <= $1))))::int AS subjects,
         (SELECT count(*) FROM tenant WHERE ${DUE_TENANTS})::int AS tenants,
         (SELECT count(*) FROM idempotency_key
           WHERE expires_at <= $1 OR tenant_id IN (SELECT id FROM tenant WHERE ${DUE_TENANTS}))::int AS keys`,
      [now],
    );
    return { recordsPurged: row.records, dataSubjectsPurged: row.subjects, tenantsPurged: row.tenants, idempotencyKeysPurged: row.keys };
  }
}
