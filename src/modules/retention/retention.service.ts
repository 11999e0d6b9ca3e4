import type { DataSource, EntityManager } from "typeorm";
import type { Clock } from "../../shared/clock";
import type { AuditAction } from "../../shared/audit/audit-actions";
import type { AuditDetails } from "../../shared/audit/audit-draft";
import { AuditRetention, RETENTION_ACTOR } from "../audit/audit-retention";
import type { AuditService } from "../audit/audit.service";
import { AuditCheckpointer } from "../audit/audit-checkpoints";
import type { AuditSigner } from "../audit/audit-signer";
import { inMaintenance } from "../../shared/db/session";
import { tenantPurgeDueSql } from "../tenant/tenant.policy";
import { RetentionRun } from "./retention.types";

/** Rows a batch deletes; each batch is a transaction of its own. */
export const DEFAULT_BATCH_SIZE = 10_000;
/** First key of the per-tenant advisory locks the purge takes (the second is the tenant's hash). */
const RETENTION_LOCK_CLASS = 7_310_002;

/** Records whose purge is due: pending and past purgeDueAt (DOMAIN rule 6). */
const DUE_RECORDS = `status = 'PENDING_DELETION' AND purge_due_at <= $1`;
/** Ended tenants whose data purge is due (DOMAIN rule 5). */
const DUE_TENANTS = tenantPurgeDueSql("tenant", "$1");

/**
 * The retention engine (DOMAIN rules 5-10). Everything is deleted in the database, in batches
 * that are transactions of their own; work is split by tenant, and a tenant's batches take turns
 * under a per-tenant advisory lock (ended tenants: their row, FOR UPDATE SKIP LOCKED; expired
 * keys: FOR UPDATE SKIP LOCKED). Two runs at once count each row once and leave nothing due
 * behind; a crash loses only the uncommitted batch, which the next run redoes; nothing is ever
 * deleted before it is due. `now` is always the service clock, passed into the queries (rule 10).
 * Each batch writes one audit entry in its tenant's chain.
 */
export class RetentionService {
  private readonly auditRetention: AuditRetention;
  private readonly checkpointer: AuditCheckpointer;

  /** `db` is the maintenance pool (custodian_maintenance). */
  constructor(
    private readonly db: DataSource,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    signer: AuditSigner,
    private readonly batchSize = DEFAULT_BATCH_SIZE,
  ) {
    this.auditRetention = new AuditRetention(db, audit, batchSize);
    this.checkpointer = new AuditCheckpointer(db, signer);
  }

  async run(options: { dryRun: boolean }): Promise<RetentionRun> {
    const startedAt = this.clock.now();
    const counts = options.dryRun ? await this.count(startedAt) : await this.purge(startedAt);
    // Audit entries last: the entries this run wrote are new and never expire in the same run.
    const auditEntriesPurged = await this.auditRetention.purge(startedAt, options);
    // Then the chains, as the run left them, are verified and signed.
    const checkpoints = options.dryRun ? { signed: 0, invalidChains: [] } : await this.checkpointer.sign(this.clock.now());
    return Object.assign(new RetentionRun(), {
      dryRun: options.dryRun,
      startedAt,
      finishedAt: this.clock.now(),
      ...counts,
      auditEntriesPurged,
      auditCheckpointsSigned: checkpoints.signed,
      auditChainsInvalid: checkpoints.invalidChains,
    });
  }

  private async purge(now: Date) {
    let recordsPurged = 0;
    let dataSubjectsPurged = 0;
    let idempotencyKeysPurged = 0;
    let tenantsPurged = 0;

    // 1. Records past their due date, tenant by tenant.
    for (const tenantId of await this.tenantsWith(now, `SELECT 1 FROM personal_data_record r WHERE r.tenant_id = t.id AND r.${DUE_RECORDS}`)) {
      recordsPurged += await this.drain(
        now,
        tenantId,
        "RECORDS_PURGED",
        `
        DELETE FROM personal_data_record WHERE ctid = ANY(ARRAY(
          SELECT ctid FROM personal_data_record WHERE tenant_id = $3 AND ${DUE_RECORDS} LIMIT $2))`,
      );
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

    // 3. Deleted subjects once due and without records left, tenant by tenant.
    const DUE_SUBJECTS = `s.status = 'DELETED' AND s.purge_due_at <= $1
      AND NOT EXISTS (SELECT 1 FROM personal_data_record r WHERE r.tenant_id = s.tenant_id AND r.data_subject_id = s.id)`;
    for (const tenantId of await this.tenantsWith(now, `SELECT 1 FROM data_subject s WHERE s.tenant_id = t.id AND ${DUE_SUBJECTS}`)) {
      dataSubjectsPurged += await this.drain(
        now,
        tenantId,
        "DATA_SUBJECTS_PURGED",
        `
        DELETE FROM data_subject WHERE ctid = ANY(ARRAY(SELECT s.ctid FROM data_subject s WHERE s.tenant_id = $3 AND ${DUE_SUBJECTS} LIMIT $2))`,
      );
    }

    // 4. Idempotency keys past their 24 hours (they name no values, but need not stay).
    for (;;) {
      const [{ n }] = await inMaintenance(this.db, (m) =>
        m.query(
          `WITH gone AS (
           DELETE FROM idempotency_key WHERE ctid = ANY(ARRAY(
             SELECT ctid FROM idempotency_key WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
           RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
          [now, this.batchSize],
        ),
      );
      idempotencyKeysPurged += n;
      if (n < this.batchSize) break;
    }
    return { recordsPurged, dataSubjectsPurged, tenantsPurged, idempotencyKeysPurged };
  }

  /** Tenants for which `exists` (a subquery over `t`) finds due work. */
  private async tenantsWith(now: Date, exists: string): Promise<string[]> {
    const rows: Array<{ id: string }> = await inMaintenance(this.db, (m) => m.query(`SELECT t.id FROM tenant t WHERE EXISTS (${exists}) ORDER BY t.id`, [now]));
    return rows.map((r) => r.id);
  }

  /**
   * Deletes one tenant's due rows batch by batch until a batch comes back short. Each batch holds
   * the tenant's retention lock (a transaction-level advisory lock), so two instances on one
   * tenant take turns, and each batch sees what the previous one committed: no row is counted
   * twice and no instance stops while due rows remain. Row locks come from the DELETE itself.
   */
  private async drain(now: Date, tenantId: string, action: AuditAction, deleteSql: string): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await inMaintenance(this.db, async (manager) => {
        await manager.query(`SELECT pg_advisory_xact_lock(${RETENTION_LOCK_CLASS}, hashtext($1))`, [tenantId]);
        const [{ n }] = await manager.query(`WITH gone AS (${deleteSql} RETURNING 1) SELECT count(*)::int AS n FROM gone`, [now, this.batchSize, tenantId]);
        if (n > 0) await this.record(manager, now, tenantId, action, { count: n });
        return n as number;
      });
      total += n;
      if (n < this.batchSize) return total;
    }
  }

  /**
   * One batch of the purge of one ended tenant, holding its row (SKIP LOCKED: another instance
   * takes another tenant). Records first, then subjects, then keys; when nothing is left, the
   * tenant becomes PURGED. Returns null when no tenant is due.
   */
  private purgeOneDueTenant(now: Date) {
    return inMaintenance(this.db, async (manager) => {
      const [tenant]: Array<{ id: string }> = await manager.query(
        `SELECT id FROM tenant WHERE ${DUE_TENANTS} ORDER BY data_purge_due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [now],
      );
      if (!tenant) return null;
      // Also the tenant's retention lock: a step-1 batch of another instance finishes first.
      await manager.query(`SELECT pg_advisory_xact_lock(${RETENTION_LOCK_CLASS}, hashtext($1))`, [tenant.id]);
      const step = { records: 0, subjects: 0, keys: 0, purged: false };
      step.records = await this.deleteCounted(
        manager,
        `DELETE FROM personal_data_record WHERE ctid = ANY(ARRAY(SELECT ctid FROM personal_data_record WHERE tenant_id = $1 LIMIT $2))`,
        tenant.id,
      );
      if (step.records < this.batchSize) {
        step.subjects = await this.deleteCounted(
          manager,
          `DELETE FROM data_subject WHERE ctid = ANY(ARRAY(SELECT ctid FROM data_subject WHERE tenant_id = $1 LIMIT $2))`,
          tenant.id,
        );
      }
      if (step.records + step.subjects < this.batchSize) {
        step.keys = await this.deleteCounted(
          manager,
          `DELETE FROM idempotency_key WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_key WHERE tenant_id = $1 LIMIT $2))`,
          tenant.id,
        );
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

  private record(manager: EntityManager, now: Date, tenantId: string, action: AuditAction, details: AuditDetails) {
    return this.audit.append(manager, {
      tenantId,
      occurredAt: now,
      actor: RETENTION_ACTOR,
      action,
      targetType: "Tenant",
      targetId: tenantId,
      outcome: "ALLOWED",
      details,
    });
  }

  /** What `purge` would delete now, counted with the same conditions, changing nothing. */
  private async count(now: Date) {
    const [row] = await inMaintenance(this.db, (m) =>
      m.query(
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
      ),
    );
    return { recordsPurged: row.records, dataSubjectsPurged: row.subjects, tenantsPurged: row.tenants, idempotencyKeysPurged: row.keys };
  }
}
