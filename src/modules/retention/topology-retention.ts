import { retentionDuration, retentionLastSuccess, retentionPurgedRows, retentionRuns } from "../../shared/metrics";
import type { AuditSigner } from "../audit/audit-signer";
import type { AuditService } from "../audit/audit.service";
import type { Clock } from "../../shared/clock";
import { CONTROL, type Database, type Topology } from "../../shared/db/topology";
import { RetentionService } from "./retention.service";
import { RetentionRun } from "./retention.types";
import type { KeyRing } from "../keys/key-ring";

/**
 * Retention over the topology (DOMAIN rules 5-10 with physical residency): each database runs
 * its own, side by side; a region purges its tenants' rows and audit chains where they live, and
 * is then repaired against control (its directory takes the tenants the region marked PURGED).
 */
export class TopologyRetention {
  constructor(
    private readonly topology: Topology,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly signer: AuditSigner,
    private readonly keys: KeyRing,
    private readonly batchSize?: number,
  ) {}

  /** One database's run. */
  async runOn(database: Database, options: { dryRun: boolean }): Promise<RetentionRun> {
    const timer = options.dryRun ? null : retentionDuration.startTimer({ database: database.name });
    try {
      const run = await new RetentionService(
        database.maintenance,
        this.clock,
        this.audit,
        this.signer,
        this.keys.shredder(database.keystore),
        this.batchSize,
      ).run({
        ...options,
        tenantData: database.name !== CONTROL,
      });
      // A region's run may mark tenants PURGED: control's directory follows (with the rest of the repair).
      if (database.name !== CONTROL && !options.dryRun) await this.topology.repair(database);
      if (timer) {
        timer();
        recordRun(database.name, run);
      }
      return run;
    } catch (error) {
      if (timer) retentionRuns.inc({ database: database.name, outcome: "failed" });
      throw error;
    }
  }

  /**
   * Every database's run, side by side, added up. A database that could not be reached fails the
   * whole answer, naming its location, after the others have run.
   */
  async run(options: { dryRun: boolean }): Promise<RetentionRun> {
    const runs: RetentionRun[] = [];
    for (const { outcome } of await this.topology.each((database) => this.runOn(database, options))) {
      if (outcome.status === "rejected") throw outcome.reason;
      runs.push(outcome.value);
    }
    return mergeRuns(runs);
  }
}

/** Runs of several databases as one: counts added, the earliest start and the latest finish. */
export function mergeRuns(runs: readonly RetentionRun[]): RetentionRun {
  const sum = (pick: (r: RetentionRun) => number) => runs.reduce((n, r) => n + pick(r), 0);
  return Object.assign(new RetentionRun(), {
    dryRun: runs[0].dryRun,
    startedAt: new Date(Math.min(...runs.map((r) => r.startedAt.getTime()))),
    finishedAt: new Date(Math.max(...runs.map((r) => r.finishedAt.getTime()))),
    recordsPurged: sum((r) => r.recordsPurged),
    dataSubjectsPurged: sum((r) => r.dataSubjectsPurged),
    tenantsPurged: sum((r) => r.tenantsPurged),
    auditEntriesPurged: sum((r) => r.auditEntriesPurged),
    deadlineEventsRaised: sum((r) => r.deadlineEventsRaised),
    idempotencyKeysPurged: sum((r) => r.idempotencyKeysPurged),
    auditCheckpointsSigned: sum((r) => r.auditCheckpointsSigned),
    auditChainsInvalid: runs.flatMap((r) => r.auditChainsInvalid),
  });
}

/** A finished run in the metrics: its rows by kind, its duration, the time of the last success. */
function recordRun(database: string, run: RetentionRun): void {
  retentionRuns.inc({ database, outcome: "ok" });
  const kinds = {
    records: run.recordsPurged,
    data_subjects: run.dataSubjectsPurged,
    tenants: run.tenantsPurged,
    audit_entries: run.auditEntriesPurged,
    idempotency_keys: run.idempotencyKeysPurged,
  };
  for (const [kind, rows] of Object.entries(kinds)) retentionPurgedRows.inc({ database, kind }, rows);
  retentionLastSuccess.set({ database }, Date.now() / 1000);
}
