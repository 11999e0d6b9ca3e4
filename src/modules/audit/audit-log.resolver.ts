import { Arg, Args, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from "type-graphql";
import { Concurrency } from "../../shared/concurrency";
import type { RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { NotFoundError } from "../../shared/errors";
import { PageArgs } from "../../shared/pagination";
import type { TenantService } from "../tenant/tenant.service";
import { Tenant } from "../tenant/tenant.types";
import { OPERATOR_CHAIN } from "./audit-chain";
import type { AuditLogService } from "./audit-log.service";
import { AUDIT_READERS, AuditCheckpoint, AuditLogEntryConnection, AuditLogFilter, AuditSigningKey, AuditVerification } from "./audit-log.types";
import type { AuditSigner } from "./audit-signer";
import { AuditErrors } from "./audit.errors";

/**
 * A verification holds a connection for as long as it reads, so it is priced as one per request
 * (the cost limit is 10,000) and a process runs at most two at once; more are RATE_LIMITED,
 * retryable. Twelve requests of fifteen aliased verifications once held every connection.
 */
export const VERIFY_COST = 6000;
export const MAX_CONCURRENT_VERIFICATIONS = 2;

@Resolver(() => Tenant)
export class AuditLogResolver {
  private readonly verifications = new Concurrency(MAX_CONCURRENT_VERIFICATIONS, "audit verifications");

  constructor(
    private readonly log: AuditLogService,
    private readonly tenants: TenantService,
    private readonly signer: AuditSigner,
  ) {}

  @FieldResolver(() => AuditLogEntryConnection, { description: "The tenant's audit log, newest first (tenant admin, auditor, operator)." })
  @Allow(...AUDIT_READERS)
  auditLog(
    @Ctx() ctx: RequestContext,
    @Root() tenant: Tenant,
    @Args() page: PageArgs,
    @Arg("filter", () => AuditLogFilter, { description: "Only entries that match every condition given.", nullable: true }) filter: AuditLogFilter | null,
  ) {
    return this.log.page(ctx, tenant.id, page, filter);
  }

  @FieldResolver(() => [AuditCheckpoint], { description: "The tenant's signed audit checkpoints, newest first (tenant admin, auditor, operator)." })
  @Allow(...AUDIT_READERS)
  auditCheckpoints(
    @Ctx() ctx: RequestContext,
    @Root() tenant: Tenant,
    @Arg("first", () => Int, { description: "How many checkpoints, newest first (1-100).", defaultValue: 20 }) first: number,
  ) {
    if (!Number.isInteger(first) || first < 1 || first > 100) throw AuditErrors.checkpointCount();
    return this.log.checkpoints(ctx, tenant.id, first);
  }

  @Query(() => AuditVerification, {
    description:
      "Checks the tenant's audit hash chain against its head and newest signed checkpoint, and says whether any entry was edited, removed or reordered. " +
      "From the newest checkpoint by default (bounded by what was written since); `full` recomputes every retained entry.",
    complexity: VERIFY_COST,
  })
  @Allow(...AUDIT_READERS)
  async verifyAuditLog(
    @Ctx() ctx: RequestContext,
    @Arg("tenantId", () => ID, { description: "The tenant whose chain is checked." }) tenantId: string,
    @Arg("full", { description: "Recompute the whole chain, not only the entries after the newest signed checkpoint.", defaultValue: false }) full: boolean,
  ) {
    const tenant = await this.tenants.findVisible(ctx, tenantId);
    if (!tenant) throw new NotFoundError("tenant");
    return this.verifications.run(() => this.log.verify(ctx, tenant.id, full));
  }

  @Query(() => AuditSigningKey, { description: "The public key of the audit checkpoints' signatures." })
  @Allow(...AUDIT_READERS)
  auditSigningKey(): AuditSigningKey {
    return Object.assign(new AuditSigningKey(), { keyId: this.signer.keyId, algorithm: "Ed25519", publicKeyPem: this.signer.publicKeyPem });
  }

  @Query(() => AuditLogEntryConnection, { description: "The audit log of operator actions on reference data (entries without a tenant), newest first." })
  @Allow(Role.OPERATOR)
  operatorAuditLog(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgs,
    @Arg("filter", () => AuditLogFilter, { description: "Only entries that match every condition given.", nullable: true }) filter: AuditLogFilter | null,
  ) {
    return this.log.page(ctx, OPERATOR_CHAIN, page, filter);
  }

  @Query(() => AuditVerification, {
    description: "Checks the hash chain of operator actions on reference data, as verifyAuditLog does.",
    complexity: VERIFY_COST,
  })
  @Allow(Role.OPERATOR)
  verifyOperatorAuditLog(
    @Ctx() ctx: RequestContext,
    @Arg("full", { description: "Recompute the whole chain, not only the entries after the newest signed checkpoint.", defaultValue: false }) full: boolean,
  ) {
    return this.verifications.run(() => this.log.verify(ctx, OPERATOR_CHAIN, full));
  }
}
