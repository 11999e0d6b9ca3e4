import { randomUUID } from "node:crypto";
import { onControl, onTenant, principalOf, type RequestContext } from "../../context";
import { auditTarget } from "../../shared/audit/audit-draft";
import { Role } from "../../shared/auth/role";
import { em } from "../../shared/db/database";
import { BadUserInputError, DomainError, ErrorCode, NotFoundError } from "../../shared/errors";
import { isUuid } from "../../shared/ids";
import { byKeyLoader } from "../../shared/loaders";
import { keysetPage, type Connection, type PageArgs } from "../../shared/pagination";
import { WebhookEndpointEntity } from "./events.entities";
import { eventsById } from "./events.store";
import {
  toEvent,
  toWebhookDelivery,
  toWebhookEndpoint,
  type CreateWebhookEndpointInput,
  type Event,
  type WebhookDelivery,
  type WebhookDeliveryStatus,
  type WebhookEndpoint,
  type WebhookEndpointWithSecret,
} from "./events.types";
import { checkEndpointUrl, MAX_ENDPOINTS_PER_OWNER, newSecret, ROTATION_OVERLAP_MS, shownSecret } from "./webhook-policy";
import { checkReachable, type AddressRules } from "./webhook-transport";
import { sealSecret } from "./webhook-secrets";
import type { KeyRing } from "../keys/key-ring";
import {
  deleteEndpoint,
  deliveriesById,
  deliveriesQuery,
  disableEndpoint,
  enableEndpoint,
  endpointsById,
  endpointsOf,
  insertEndpointWithin,
  replayDelivery,
  rotateSecret,
} from "./webhooks.store";

export interface WebhookSettings {
  rules: AddressRules;
  /** Production: receivers only over https. */
  httpsOnly: boolean;
}

function eventLoader(ctx: RequestContext) {
  return byKeyLoader(
    (ids) => eventsById(em(ctx), ids),
    (e) => e.id,
    toEvent,
  );
}

/**
 * Webhook endpoints and their deliveries (DOMAIN rules 35-38). A TENANT_ADMIN manages its
 * tenant's endpoints (in the tenant's region), the OPERATOR the operators' (in control); no one
 * else sees any. Endpoints of one owner receive that owner's events only.
 */
export class WebhookService {
  constructor(
    private readonly settings: WebhookSettings,
    private readonly keys: KeyRing,
  ) {}

  /** Whose endpoints the caller manages, given the tenantId it named: its own tenant, or null for an operator. */
  private owner(ctx: RequestContext, tenantId: string | null | undefined): string | null {
    const principal = principalOf(ctx);
    if (principal.role === Role.OPERATOR) {
      if (tenantId)
        throw new BadUserInputError("tenantId", "Operators manage operator endpoints: leave tenantId out (a tenant's administrator manages its own).");
      return null;
    }
    const own = principal.tenantId!.toLowerCase();
    if (tenantId && tenantId.toLowerCase() !== own) throw new NotFoundError("tenant");
    return own;
  }

  private on(ctx: RequestContext, owner: string | null): Promise<RequestContext> {
    return owner ? onTenant(ctx, owner) : onControl(ctx);
  }

  async list(ctx: RequestContext, tenantId: string | null | undefined): Promise<WebhookEndpoint[]> {
    const owner = this.owner(ctx, tenantId);
    return (await endpointsOf(em(await this.on(ctx, owner)), owner)).map(toWebhookEndpoint);
  }

  /** The caller's endpoint `id`, or NOT_FOUND: another owner's reads as absent. */
  private async find(ctx: RequestContext, id: string): Promise<{ on: RequestContext; endpoint: WebhookEndpointEntity }> {
    const owner = this.owner(ctx, undefined);
    const on = await this.on(ctx, owner);
    const [endpoint] = isUuid(id) ? await endpointsById(em(on), [id.toLowerCase()]) : [];
    if (!endpoint || endpoint.tenantId !== owner) throw new NotFoundError("webhook endpoint");
    auditTarget(ctx, { tenantId: owner, targetType: "WebhookEndpoint", targetId: endpoint.id });
    return { on, endpoint };
  }

  async create(ctx: RequestContext, input: CreateWebhookEndpointInput): Promise<WebhookEndpointWithSecret> {
    const owner = this.owner(ctx, input.tenantId);
    const url = checkEndpointUrl(input.url, { httpsOnly: this.settings.httpsOnly });
    await checkReachable(url, this.settings.rules);
    const now = ctx.clock.now();
    const id = randomUUID();
    // Stored only sealed under the master key, shown once below.
    const secret = newSecret();
    const sealed = await sealSecret(this.keys, id, secret);
    const endpoint = Object.assign(new WebhookEndpointEntity(), {
      id,
      tenantId: owner,
      url: url.toString(),
      eventTypes: [...new Set(input.eventTypes)],
      secret: null,
      secretSealed: sealed.sealed,
      secretMasterVersion: sealed.masterVersion,
      previousSecret: null,
      previousSecretSealed: null,
      previousSecretMasterVersion: null,
      previousSecretUntil: null,
      enabled: true,
      disabledReason: null,
      failingSince: null,
      createdAt: now,
      updatedAt: now,
    });
    auditTarget(ctx, { tenantId: owner, targetType: "WebhookEndpoint", targetId: endpoint.id, details: { eventTypes: endpoint.eventTypes } });
    if (!(await insertEndpointWithin(em(await this.on(ctx, owner)), endpoint, MAX_ENDPOINTS_PER_OWNER))) {
      throw new DomainError(ErrorCode.INVALID_STATE, `At most ${MAX_ENDPOINTS_PER_OWNER} webhook endpoints per tenant: delete one first.`);
    }
    return { endpoint: toWebhookEndpoint(endpoint), secret: shownSecret(secret) };
  }

  /** A new secret; the current one signs beside it for 24 hours (a second rotation drops the oldest). */
  async rotate(ctx: RequestContext, id: string): Promise<WebhookEndpointWithSecret> {
    const { on, endpoint } = await this.find(ctx, id);
    const now = ctx.clock.now();
    const secret = newSecret();
    await rotateSecret(em(on), endpoint.id, await sealSecret(this.keys, endpoint.id, secret), new Date(now.getTime() + ROTATION_OVERLAP_MS), now);
    return { endpoint: toWebhookEndpoint(endpoint), secret: shownSecret(secret) };
  }

  async disable(ctx: RequestContext, id: string): Promise<WebhookEndpoint> {
    const { on, endpoint } = await this.find(ctx, id);
    if (!endpoint.enabled) return toWebhookEndpoint(endpoint);
    const reason = "Disabled by an administrator.";
    await disableEndpoint(em(on), endpoint.id, reason, ctx.clock.now());
    return toWebhookEndpoint({ ...endpoint, enabled: false, disabledReason: reason });
  }

  /** Enabled again; FAILED deliveries stay FAILED (replay them). */
  async enable(ctx: RequestContext, id: string): Promise<WebhookEndpoint> {
    const { on, endpoint } = await this.find(ctx, id);
    await enableEndpoint(em(on), endpoint.id, ctx.clock.now());
    return toWebhookEndpoint({ ...endpoint, enabled: true, disabledReason: null });
  }

  /** Deletes the endpoint with its secrets and its deliveries' logs. */
  async delete(ctx: RequestContext, id: string): Promise<boolean> {
    const { on, endpoint } = await this.find(ctx, id);
    return deleteEndpoint(em(on), endpoint.id);
  }

  deliveries(ctx: RequestContext, endpoint: WebhookEndpoint, args: PageArgs, status: WebhookDeliveryStatus | null): Promise<Connection<WebhookDelivery>> {
    return keysetPage(
      deliveriesQuery(em(ctx), endpoint.id, status),
      args,
      { createdAt: "d.created_at", id: "d.id" },
      (d) => [d.createdAt, d.id],
      toWebhookDelivery,
    );
  }

  /** A new attempt of the same delivery (same id, same webhook-id), due now, on an enabled endpoint. */
  async replay(ctx: RequestContext, deliveryId: string): Promise<WebhookDelivery> {
    const owner = this.owner(ctx, undefined);
    const on = await this.on(ctx, owner);
    const [delivery] = isUuid(deliveryId) ? await deliveriesById(em(on), [deliveryId.toLowerCase()]) : [];
    if (!delivery || delivery.tenantId !== owner) throw new NotFoundError("webhook delivery");
    auditTarget(ctx, { tenantId: owner, targetType: "WebhookDelivery", targetId: delivery.id, details: { endpointId: delivery.endpointId } });
    const [endpoint] = await endpointsById(em(on), [delivery.endpointId]);
    if (!endpoint?.enabled) throw new DomainError(ErrorCode.INVALID_STATE, "The endpoint is disabled: enable it before replaying its deliveries.");
    const now = ctx.clock.now();
    await replayDelivery(em(on), delivery.id, now);
    return toWebhookDelivery({ ...delivery, status: "PENDING", scheduledAttempts: 0, nextAttemptAt: now });
  }

  /** A delivery's event (the delivery is on the event's database). */
  event(ctx: RequestContext, delivery: WebhookDelivery): Promise<Event | null> {
    return ctx.loaders.get(ctx, eventLoader).load(delivery.eventId);
  }

  /** The endpoints among `ids` the caller manages (node lookup). */
  async reachableEndpoints(ctx: RequestContext, ids: readonly string[]): Promise<WebhookEndpoint[]> {
    const owner = this.managedOwner(ctx);
    if (owner === undefined || !ids.length) return [];
    const rows = await endpointsById(em(await this.on(ctx, owner)), ids);
    return rows.filter((e) => e.tenantId === owner).map(toWebhookEndpoint);
  }

  /** The deliveries among `ids` the caller manages (node lookup). */
  async reachableDeliveries(ctx: RequestContext, ids: readonly string[]): Promise<WebhookDelivery[]> {
    const owner = this.managedOwner(ctx);
    if (owner === undefined || !ids.length) return [];
    const rows = await deliveriesById(em(await this.on(ctx, owner)), ids);
    return rows.filter((d) => d.tenantId === owner).map(toWebhookDelivery);
  }

  /** Whose endpoints the caller manages; undefined for roles that manage none. */
  private managedOwner(ctx: RequestContext): string | null | undefined {
    const principal = ctx.principal;
    if (principal?.role === Role.OPERATOR) return null;
    if (principal?.role === Role.TENANT_ADMIN && principal.tenantId && isUuid(principal.tenantId)) return principal.tenantId.toLowerCase();
    return undefined;
  }
}
