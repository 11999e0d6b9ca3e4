import { Arg, Args, Ctx, FieldResolver, ID, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { NotFoundError } from "../../shared/errors";
import { PageArgs } from "../../shared/pagination";
import type { TenantService } from "../tenant/tenant.service";
import { Tenant } from "../tenant/tenant.types";
import { OPERATOR_CHAIN } from "./audit-chain";
import type { AuditLogService } from "./audit-log.service";
import { AuditLogEntryConnection, AuditLogFilter, AuditVerification } from "./audit-log.types";

/** Who may read a tenant's audit log: its administrator and auditor, and operators. */
const AUDIT_READERS = [Role.OPERATOR, Role.TENANT_ADMIN, Role.AUDITOR] as const;

@Resolver(() => Tenant)
export class AuditLogResolver {
  constructor(
    private readonly log: AuditLogService,
    private readonly tenants: TenantService,
  ) {}

  @FieldResolver(() => AuditLogEntryConnection, { description: "The tenant's audit log, newest first (tenant admin, auditor, operator)." })
  @Allow(...AUDIT_READERS)
  auditLog(
    @Ctx() ctx: RequestContext,
    @Root() tenant: Tenant,
    @Args() page: PageArgs,
    @Arg("filter", () => AuditLogFilter, { nullable: true }) filter: AuditLogFilter | null,
  ) {
    return this.log.page(ctx, tenant.id, page, filter);
  }

  @Query(() => AuditVerification, { description: "Recomputes the tenant's audit hash chain and says whether any entry was edited, removed or reordered." })
  @Allow(...AUDIT_READERS)
  async verifyAuditLog(@Ctx() ctx: RequestContext, @Arg("tenantId", () => ID) tenantId: string) {
    const tenant = await this.tenants.findVisible(ctx, tenantId);
    if (!tenant) throw new NotFoundError("tenant");
    return this.log.verify(ctx, tenant.id);
  }

  @Query(() => AuditLogEntryConnection, { description: "The audit log of operator actions on reference data (entries without a tenant), newest first." })
  @Allow(Role.OPERATOR)
  operatorAuditLog(@Ctx() ctx: RequestContext, @Args() page: PageArgs, @Arg("filter", () => AuditLogFilter, { nullable: true }) filter: AuditLogFilter | null) {
    return this.log.page(ctx, OPERATOR_CHAIN, page, filter);
  }

  @Query(() => AuditVerification, { description: "Recomputes the hash chain of operator actions on reference data." })
  @Allow(Role.OPERATOR)
  verifyOperatorAuditLog(@Ctx() ctx: RequestContext) {
    return this.log.verify(ctx, OPERATOR_CHAIN);
  }
}
