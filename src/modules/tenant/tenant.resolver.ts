import type { GraphQLResolveInfo } from "graphql";
import { Arg, Args, Ctx, FieldResolver, ID, Info, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { Role, TENANT_ROLES } from "../../shared/auth/role";
import { PageArgs } from "../../shared/pagination";
import type { JoinRegistry } from "../../shared/read-path/joins";
import { Audited } from "../../shared/audit/audited";
import { StorageLocation } from "../storage-location/storage-location.entity";
import { StorageLocationService } from "../storage-location/storage-location.service";
import { CreateTenantInput, RetentionPolicyInput } from "./tenant.inputs";
import { planTenant, planTenantPage } from "./tenant-joins";
import { TenantService } from "./tenant.service";
import { Tenant, TenantConnection } from "./tenant.types";

@Resolver(() => Tenant)
export class TenantResolver {
  constructor(
    private readonly tenantService: TenantService,
    private readonly locations: StorageLocationService,
    /** The read path: fields below a tenant its statement can fetch. */
    private readonly joins: JoinRegistry<RequestContext>,
  ) {}

  @Query(() => TenantConnection, { description: "Every tenant, oldest first (operators only)." })
  @Allow(Role.OPERATOR)
  tenants(@Ctx() ctx: RequestContext, @Args() page: PageArgs, @Info() info: GraphQLResolveInfo) {
    return this.tenantService.list(ctx, page, planTenantPage(ctx, info, this.joins));
  }

  @Query(() => Tenant, { nullable: true, description: "A tenant by id; null when it does not exist or is outside your scope." })
  @Allow(Role.OPERATOR, ...TENANT_ROLES)
  tenant(@Ctx() ctx: RequestContext, @Arg("id", () => ID, { description: "The tenant's id." }) id: string, @Info() info: GraphQLResolveInfo) {
    return this.tenantService.get(ctx, id, planTenant(ctx, info, this.joins));
  }

  @Mutation(() => Tenant, { description: "Creates a tenant in the storage location its administrator chose." })
  @Allow(Role.OPERATOR)
  @Audited("TENANT_CREATED")
  createTenant(
    @Ctx() ctx: RequestContext,
    @Arg("input", () => CreateTenantInput, { description: "The new tenant: its name, its storage location (chosen once, for good) and its retention policy." })
    input: CreateTenantInput,
  ) {
    return this.tenantService.create(ctx, input);
  }

  @Mutation(() => Tenant, { description: "Changes the tenant's retention policy within the bounds of the service's promises." })
  @Allow(Role.OPERATOR, Role.TENANT_ADMIN)
  @Audited("RETENTION_POLICY_UPDATED")
  updateRetentionPolicy(
    @Ctx() ctx: RequestContext,
    @Arg("tenantId", () => ID, { description: "The tenant whose policy changes." }) tenantId: string,
    @Arg("input", () => RetentionPolicyInput, { description: "The new deletion grace period and audit log retention." }) input: RetentionPolicyInput,
  ) {
    return this.tenantService.updateRetentionPolicy(ctx, tenantId, input);
  }

  @FieldResolver(() => StorageLocation, { description: "Where all of the tenant's personal data is stored." })
  async storageLocation(@Ctx() ctx: RequestContext, @Root() tenant: Tenant): Promise<StorageLocation> {
    const location = await this.locations.byCode(ctx, tenant.storageLocationCode);
    if (!location) throw new Error(`tenant ${tenant.id} names a missing storage location`);
    return location;
  }
}
