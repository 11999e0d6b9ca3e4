import { Arg, Ctx, ID, Mutation, Resolver } from "type-graphql";
import type { RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { Audited } from "../../shared/audit/audited";
import { Tenant } from "../tenant/tenant.types";
import type { SubscriptionService } from "./subscription.service";

@Resolver()
export class SubscriptionResolver {
  constructor(private readonly subscriptions: SubscriptionService) {}

  @Mutation(() => Tenant, { description: "Passive deletion: every record of the tenant becomes PENDING_DELETION, purge due after the grace period." })
  @Allow(Role.OPERATOR)
  @Audited("SUBSCRIPTION_ENDED")
  endSubscription(
    @Ctx() ctx: RequestContext,
    @Arg("tenantId", () => ID, { description: "The tenant whose subscription ends; its data is purged after its grace period." }) tenantId: string,
  ) {
    return this.subscriptions.end(ctx, tenantId);
  }

  @Mutation(() => Tenant, { description: "Only before the purge: records pending passive deletion become ACTIVE again." })
  @Allow(Role.OPERATOR)
  @Audited("SUBSCRIPTION_REACTIVATED")
  reactivateSubscription(
    @Ctx() ctx: RequestContext,
    @Arg("tenantId", () => ID, { description: "The tenant whose ended subscription resumes, before its purge." }) tenantId: string,
  ) {
    return this.subscriptions.reactivate(ctx, tenantId);
  }
}
