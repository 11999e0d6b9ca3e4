import { Arg, Ctx, Mutation, Resolver } from "type-graphql";
import type { RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { auditTarget } from "../../shared/audit/audit-draft";
import { Audited } from "../../shared/audit/audited";
import type { AuditService } from "../audit/audit.service";
import type { AuditSigner } from "../audit/audit-signer";
import { TopologyRetention } from "./topology-retention";
import { RetentionRun } from "./retention.types";
import type { KeyRing } from "../keys/key-ring";

@Resolver()
export class RetentionResolver {
  constructor(
    private readonly audit: AuditService,
    private readonly signer: AuditSigner,
    private readonly keys: KeyRing,
  ) {}

  @Mutation(() => RetentionRun, { description: "Runs retention now (each batch commits on its own); a dry run only counts what a real run would purge." })
  @Allow(Role.OPERATOR)
  @Audited("RETENTION_RUN")
  async runRetention(
    @Ctx() ctx: RequestContext,
    @Arg("dryRun", () => Boolean, { nullable: true, defaultValue: false, description: "Count only; change nothing." }) dryRunArg: boolean | null,
  ) {
    const dryRun = dryRunArg === true;
    auditTarget(ctx, { tenantId: null, targetType: "RetentionRun" });
    const run = await new TopologyRetention(ctx.topology, ctx.clock, this.audit, this.signer, this.keys).run({ dryRun });
    auditTarget(ctx, {
      details: {
        dryRun,
        recordsPurged: run.recordsPurged,
        dataSubjectsPurged: run.dataSubjectsPurged,
        tenantsPurged: run.tenantsPurged,
        auditEntriesPurged: run.auditEntriesPurged,
        idempotencyKeysPurged: run.idempotencyKeysPurged,
        auditCheckpointsSigned: run.auditCheckpointsSigned,
        auditChainsInvalid: run.auditChainsInvalid.length,
      },
    });
    return run;
  }
}
