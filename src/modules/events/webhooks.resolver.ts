import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../../context";
import { Audited } from "../../shared/audit/audited";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { PageArgs } from "../../shared/pagination";
import type { TenantService } from "../tenant/tenant.service";
import { Tenant } from "../tenant/tenant.types";
import {
  CreateWebhookEndpointInput,
  Event,
  WebhookDelivery,
  WebhookDeliveryConnection,
  WebhookDeliveryStatus,
  WebhookEndpoint,
  WebhookEndpointWithSecret,
} from "./events.types";
import type { WebhookService } from "./webhooks.service";

const MANAGERS = [Role.TENANT_ADMIN, Role.OPERATOR] as const;
const endpointId = () => Arg("endpointId", () => ID, { description: "The webhook endpoint." });

@Resolver(() => WebhookEndpoint)
export class WebhookEndpointResolver {
  constructor(
    private readonly webhooks: WebhookService,
    private readonly tenants: TenantService,
  ) {}

  @Query(() => [WebhookEndpoint], {
    description: "TENANT_ADMIN: its tenant's endpoints (tenantId omitted or its own; another is NOT_FOUND); OPERATOR: operator endpoints.",
  })
  @Allow(...MANAGERS)
  webhookEndpoints(
    @Ctx() ctx: RequestContext,
    @Arg("tenantId", () => ID, { nullable: true, description: "The caller's own tenant, or omitted." }) tenantId: string | null,
  ) {
    return this.webhooks.list(ctx, tenantId);
  }

  @Mutation(() => WebhookEndpointWithSecret, { description: "A new endpoint and its signing secret, shown only here." })
  @Allow(...MANAGERS)
  @Audited("WEBHOOK_ENDPOINT_CREATED")
  createWebhookEndpoint(
    @Ctx() ctx: RequestContext,
    @Arg("input", () => CreateWebhookEndpointInput, { description: "The owner, the URL and the event types." }) input: CreateWebhookEndpointInput,
  ) {
    return this.webhooks.create(ctx, input);
  }

  @Mutation(() => WebhookEndpointWithSecret, { description: "New secret; the old one keeps signing beside it for 24 hours." })
  @Allow(...MANAGERS)
  @Audited("WEBHOOK_SECRET_ROTATED")
  rotateWebhookSecret(@Ctx() ctx: RequestContext, @endpointId() id: string) {
    return this.webhooks.rotate(ctx, id);
  }

  @Mutation(() => WebhookEndpoint, { description: "Disables the endpoint: its pending deliveries fail and it gets no new ones." })
  @Allow(...MANAGERS)
  @Audited("WEBHOOK_ENDPOINT_DISABLED")
  disableWebhookEndpoint(@Ctx() ctx: RequestContext, @endpointId() id: string) {
    return this.webhooks.disable(ctx, id);
  }

  @Mutation(() => WebhookEndpoint, { description: "Enables it again; deliveries that were FAILED stay FAILED (replay them)." })
  @Allow(...MANAGERS)
  @Audited("WEBHOOK_ENDPOINT_ENABLED")
  enableWebhookEndpoint(@Ctx() ctx: RequestContext, @endpointId() id: string) {
    return this.webhooks.enable(ctx, id);
  }

  @Mutation(() => Boolean, { description: "Deletes the endpoint, its secrets and its deliveries' logs." })
  @Allow(...MANAGERS)
  @Audited("WEBHOOK_ENDPOINT_DELETED")
  deleteWebhookEndpoint(@Ctx() ctx: RequestContext, @endpointId() id: string) {
    return this.webhooks.delete(ctx, id);
  }

  @Mutation(() => WebhookDelivery, { description: "Sends the delivery's event again, with the same webhook-id." })
  @Allow(...MANAGERS)
  @Audited("WEBHOOK_DELIVERY_REPLAYED")
  replayWebhookDelivery(@Ctx() ctx: RequestContext, @Arg("deliveryId", () => ID, { description: "The delivery." }) deliveryId: string) {
    return this.webhooks.replay(ctx, deliveryId);
  }

  @FieldResolver(() => Tenant, { nullable: true, description: "Null for an operator endpoint." })
  tenant(@Ctx() ctx: RequestContext, @Root() endpoint: WebhookEndpoint) {
    return endpoint.tenantId ? this.tenants.byId(ctx, endpoint.tenantId) : null;
  }

  @FieldResolver(() => WebhookDeliveryConnection, { description: "The endpoint's deliveries, oldest first, with their attempts." })
  deliveries(
    @Ctx() ctx: RequestContext,
    @Root() endpoint: WebhookEndpoint,
    @Args() page: PageArgs,
    @Arg("status", () => WebhookDeliveryStatus, { nullable: true, description: "Only deliveries in this status." }) status: WebhookDeliveryStatus | null,
  ) {
    return this.webhooks.deliveries(ctx, endpoint, page, status);
  }
}

@Resolver(() => WebhookDelivery)
export class WebhookDeliveryResolver {
  constructor(private readonly webhooks: WebhookService) {}

  @FieldResolver(() => Event, { description: "The event delivered (its id is the webhook-id)." })
  async event(@Ctx() ctx: RequestContext, @Root() delivery: WebhookDelivery): Promise<Event> {
    const event = await this.webhooks.event(ctx, delivery);
    if (!event) throw new Error("a delivery without its event");
    return event;
  }
}
