import { Ctx, FieldResolver, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { Tenant } from "../tenant/tenant.types";
import type { ComplianceService } from "./compliance.service";
import { ComplianceReport } from "./compliance.types";

@Resolver(() => Tenant)
export class ComplianceResolver {
  constructor(private readonly compliance: ComplianceService) {}

  @FieldResolver(() => ComplianceReport, { description: "How the tenant's data stands against the service's promises (tenant admin, auditor, operator)." })
  @Allow(Role.OPERATOR, Role.TENANT_ADMIN, Role.AUDITOR)
  complianceReport(@Ctx() ctx: RequestContext, @Root() tenant: Tenant) {
    return this.compliance.report(ctx, tenant.id);
  }
}
