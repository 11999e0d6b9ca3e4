import type { DataSource, EntityManager } from "typeorm";
import type { Clock } from "../../shared/clock";
import type { AuditAction } from "../../shared/audit/audit-actions";
import type { AuditDetails } from "../../shared/audit/audit-draft";
import { AuditRetention, RETENTION_ACTOR } from "../audit/audit-retention";
import type { AuditService } from "../audit/audit.service";
import { AuditCheckpointer } from "../audit/audit-checkpoints";
import type { AuditSigner } from "../audit/audit-signer";
import { inMaintenance } from "../../shared/db/session";
import type { Shredder } from "../keys/key-ring";
import {
  purgeDueSubjects,
  dueSubjectsExistSql,
  purgeableSubjectsCountSql,
  purgeSubjectsOfTenant,
  sealedSubjectsAfter,
  deleteSubjectsById,
} from "../data-subject/data-subject.store";
import {
  purgeDueRecords,
  dueRecordsExistSql,
  purgeableCountsSql,
  purgeExpiredKeys,
  purgeKeysOfTenant,
  purgeRecordsOfTenant,
  subjectHasRecordsSql,
  valueKeyVersions,
  deleteRecordsById,
  sealedRecordsAfter,
} from "../personal-data/personal-data.store";
import { markTenantPurged, nextPurgeDueTenantHeld, purgeDueTenantIdsSql, tenantsWhere } from "../tenant/tenant.store";
import { RetentionRun } from "./retention.types";
import { flushTallies } from "./purge-tally";
import { setShredEpochSeen, shredEpochSeen, tally } from "./retention.store";
import { raiseRequestDeadlines } from "../subject-request/request-deadlines";
import { purgeClosedRequests, purgeRequestsOfTenant } from "../subject-request/subject-request.store";
import { raiseIncidentDeadlines } from "../incident/incident-deadlines";
import { purgeEventsBefore, purgeEventsOfTenant } from "../events/events.store";
import { EVENT_RETENTION_MS } from "../events/outbox";
import { auditRetentionDaysSql } from "../tenant/tenant.store";

/** Rows a batch deletes; each batch is a transaction of its own. */
export const DEFAULT_BATCH_SIZE = 10_000;
/** First key of the per-tenant advisory locks the purge takes (the second is the tenant's hash). */
const RETENTION_LOCK_CLASS = 7_310_002;

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
    private readonly shredder: Shredder,
    private readonly batchSize = DEFAULT_BATCH_SIZE,
  ) {
    this.auditRetention = new AuditRetention(db, audit, batchSize);
    this.checkpointer = new AuditCheckpointer(db, signer);
  }

  /**
   * `tenantData: false` for control, which holds no tenant's data (its tenant rows are the
   * directory, which follows the regions): only its audit chain's retention and checkpoints run.
   */
  async run(options: { dryRun: boolean; tenantData?: boolean }): Promise<RetentionRun> {
    const startedAt = this.clock.now();
    const none = { recordsPurged: 0, dataSubjectsPurged: 0, tenantsPurged: 0, idempotencyKeysPurged: 0 };
    const counts = options.tenantData === false ? none : options.dryRun ? await this.count(startedAt) : await this.purge(startedAt);
    // Deadlines raise their events once (control: incidents; a region: its subject requests).
    const raise = options.tenantData === false ? raiseIncidentDeadlines : raiseRequestDeadlines;
    const deadlineEventsRaised = await inMaintenance(this.db, (m) => raise(m, startedAt, options.dryRun));
    if (!options.dryRun) await this.purgeOldEvents(startedAt);
    // Audit entries last: the entries this run wrote are new and never expire in the same run.
    const auditEntriesPurged = await this.auditRetention.purge(startedAt, options);
    // Then the chains, as the run left them, are verified and signed.
    const checkpoints = options.dryRun ? { signed: 0, invalidChains: [] } : await this.checkpointer.sign(this.clock.now());
    return Object.assign(new RetentionRun(), {
      dryRun: options.dryRun,
      startedAt,
      finishedAt: this.clock.now(),
      ...counts,
      deadlineEventsRaised,
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
    const limit = this.batchSize;
    // The tallies a crashed run left become their events first.
    const epoch = await this.shredder.epoch();
    const seen = await inMaintenance(this.db, async (m) => {
      await flushTallies(m, now);
      return shredEpochSeen(m);
    });

    // 0. Behind the key store: rows whose keys a purge destroyed may be here (a database restored
    // from a backup of before, or a batch that died between its keys and its commit). Purged as
    // the live database purged them.
    if (epoch !== null && seen < epoch) {
      const keyless = await this.purgeKeyless(now);
      recordsPurged += keyless.records;
      dataSubjectsPurged += keyless.subjects;
    }

    // 1. Records past their due date, tenant by tenant.
    for (const tenantId of await this.tenantsWith((t) => dueRecordsExistSql(t, "$1"), now)) {
      recordsPurged += await this.drain(
        now,
        tenantId,
        "RECORDS_PURGED",
        async (m) => {
          const ids = await purgeDueRecords(m, tenantId, now, limit);
          await this.shredder.records(ids);
          return ids.length;
        },
        "records",
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
    const kept = subjectHasRecordsSql("s");
    for (const tenantId of await this.tenantsWith((t) => dueSubjectsExistSql(t, "$1", kept), now)) {
      dataSubjectsPurged += await this.drain(
        now,
        tenantId,
        "DATA_SUBJECTS_PURGED",
        async (m) => {
          const ids = await purgeDueSubjects(m, tenantId, now, limit, kept);
          await this.shredder.subjects(ids);
          return ids.length;
        },
        "dataSubjects",
      );
    }

    // Old keys of corrected values that a dying process left (read as the rows are now, after this run's purge).
    await this.shredder.retired((ids) => inMaintenance(this.db, (m) => valueKeyVersions(m, ids)));

    // One data.purged event per tenant for what this run purged.
    await inMaintenance(this.db, (m) => flushTallies(m, now));

    // 4. Idempotency keys past their 24 hours (they name no values, but need not stay).
    for (;;) {
      const n = await inMaintenance(this.db, (m) => purgeExpiredKeys(m, now, limit));
      idempotencyKeysPurged += n;
      if (n < limit) break;
    }
    // Level with the key store (its count after this run's own destructions).
    if (epoch !== null) await inMaintenance(this.db, async (m) => setShredEpochSeen(m, (await this.shredder.epoch())!));
    return { recordsPurged, dataSubjectsPurged, tenantsPurged, idempotencyKeysPurged };
  }

  /**
   * Sealed rows whose keys are gone: subjects (with all their records), then records, scanned in
   * id order and deleted tenant by tenant, one audit entry each. Only a purge destroys every key
   * of a row (keys are committed before their rows, a correction keeps the new one), so a sealed
   * row without keys is purged data that came back.
   */
  private async purgeKeyless(now: Date): Promise<{ records: number; subjects: number }> {
    const done = { records: 0, subjects: 0 };
    for (const kind of ["subject", "record"] as const) {
      let after: string | null = null;
      for (;;) {
        const from: string | null = after;
        const rows: Array<{ id: string; tenant_id: string }> = await inMaintenance(this.db, (m) =>
          (kind === "subject" ? sealedSubjectsAfter : sealedRecordsAfter)(m, from, this.batchSize),
        );
        if (!rows.length) break;
        after = rows[rows.length - 1].id;
        const keyed = await this.shredder.keyed(
          kind,
          rows.map((r) => r.id),
        );
        const keyless = new Map<string, string[]>();
        for (const row of rows) if (!keyed.has(row.id)) keyless.set(row.tenant_id, [...(keyless.get(row.tenant_id) ?? []), row.id]);
        for (const [tenantId, ids] of keyless) {
          await inMaintenance(this.db, async (m) => {
            const records = kind === "subject" ? await deleteRecordsById(m, tenantId, [], ids) : await deleteRecordsById(m, tenantId, ids);
            const subjects = kind === "subject" ? await deleteSubjectsById(m, tenantId, ids) : 0;
            if (!records && !subjects) return;
            const action = kind === "subject" ? "DATA_SUBJECTS_PURGED" : "RECORDS_PURGED";
            await this.record(m, now, tenantId, action, { count: kind === "subject" ? subjects : records, recordsPurged: records, keysDestroyed: true });
            await tally(m, tenantId, { records, dataSubjects: subjects });
            done.records += records;
            done.subjects += subjects;
          });
        }
        if (rows.length < this.batchSize) break;
      }
    }
    return done;
  }

  /** Tenants for which `exists` (over the tenant's id) finds due work at `now` ($1). */
  private tenantsWith(exists: (tenantIdSql: string) => string, now: Date): Promise<string[]> {
    return inMaintenance(this.db, (m) => tenantsWhere(m, exists, [now]));
  }

  /**
   * Deletes one tenant's due rows batch by batch (`batch` deletes one and says how many) until a
   * batch comes back short. Each batch holds the tenant's retention lock (a transaction-level
   * advisory lock), so two instances on one tenant take turns, and each batch sees what the
   * previous one committed: no row is counted twice and no instance stops while due rows remain.
   * Row locks come from the DELETE itself.
   */
  private async drain(
    now: Date,
    tenantId: string,
    action: AuditAction,
    batch: (manager: EntityManager) => Promise<number>,
    counted: "records" | "dataSubjects",
  ): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await inMaintenance(this.db, async (manager) => {
        await manager.query(`SELECT pg_advisory_xact_lock(${RETENTION_LOCK_CLASS}, hashtext($1))`, [tenantId]);
        const n = await batch(manager);
        if (n > 0) {
          await this.record(manager, now, tenantId, action, { count: n });
          await tally(manager, tenantId, { [counted]: n });
        }
        return n;
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
    const limit = this.batchSize;
    return inMaintenance(this.db, async (manager) => {
      const tenantId = await nextPurgeDueTenantHeld(manager, now);
      if (!tenantId) return null;
      // Also the tenant's retention lock: a step-1 batch of another instance finishes first.
      await manager.query(`SELECT pg_advisory_xact_lock(${RETENTION_LOCK_CLASS}, hashtext($1))`, [tenantId]);
      const step = { records: 0, subjects: 0, keys: 0, purged: false };
      // Every key of the tenant first: from here on its rows are unreadable everywhere, backups included.
      await this.shredder.tenant(tenantId);
      step.records = await purgeRecordsOfTenant(manager, tenantId, limit);
      if (step.records < limit) step.subjects = await purgeSubjectsOfTenant(manager, tenantId, limit);
      if (step.records + step.subjects < limit) step.keys = await purgeKeysOfTenant(manager, tenantId, limit);
      if (step.records + step.subjects + step.keys < limit) {
        // What remains of the tenant here: its subject requests, events and endpoints.
        const rest = (await purgeRequestsOfTenant(manager, tenantId, limit)) + (await purgeEventsOfTenant(manager, tenantId, limit));
        if (rest < limit) {
          await markTenantPurged(manager, tenantId, now);
          step.purged = true;
        }
      }
      await tally(manager, tenantId, { records: step.records, dataSubjects: step.subjects, idempotencyKeys: step.keys, tenantPurged: step.purged });
      await this.record(manager, now, tenantId, step.purged ? "TENANT_PURGED" : "TENANT_PURGE_PROGRESSED", {
        recordsPurged: step.records,
        dataSubjectsPurged: step.subjects,
        idempotencyKeysPurged: step.keys,
      });
      return step;
    });
  }

  /**
   * Events (with their deliveries' logs) past 30 days, and closed subject requests past their
   * tenant's audit retention (they are proof as long as its log is), in batches.
   */
  private async purgeOldEvents(now: Date): Promise<void> {
    const before = new Date(now.getTime() - EVENT_RETENTION_MS);
    while ((await inMaintenance(this.db, (m) => purgeEventsBefore(m, before, this.batchSize))) === this.batchSize);
    await inMaintenance(this.db, (m) => purgeClosedRequests(m, now, auditRetentionDaysSql));
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
    const dueTenants = purgeDueTenantIdsSql("$1");
    const { records, keys } = purgeableCountsSql("$1", dueTenants);
    // A due subject counts when none of its records would outlive this run.
    const subjects = purgeableSubjectsCountSql("$1", dueTenants, subjectHasRecordsSql("s", "$1"));
    const [row] = await inMaintenance(this.db, (m) =>
      m.query(
        `SELECT ${records}::int AS records, ${subjects}::int AS subjects, (SELECT count(*) FROM (${dueTenants}) due)::int AS tenants, ${keys}::int AS keys`,
        [now],
      ),
    );
    return { recordsPurged: row.records, dataSubjectsPurged: row.subjects, tenantsPurged: row.tenants, idempotencyKeysPurged: row.keys };
  }
}
