import { ArrayMaxSize, ArrayMinSize, IsIn, IsOptional, IsString } from "class-validator";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { JSONObject } from "../../shared/graphql/json-object";
import { Node } from "../../shared/graphql/node";
import { connectionTypes } from "../../shared/pagination";
import { EventType } from "./event-type";
import type { EventRow } from "./events.store";
import type { WebhookDeliveryEntity, WebhookEndpointEntity } from "./events.entities";
import { MAX_URL_LENGTH } from "./webhook-policy";

export enum WebhookDeliveryStatus {
  PENDING = "PENDING",
  SUCCEEDED = "SUCCEEDED",
  FAILED = "FAILED",
}

registerEnumType(WebhookDeliveryStatus, {
  name: "WebhookDeliveryStatus",
  description: "Where a delivery stands.",
  valuesConfig: {
    PENDING: { description: "An attempt is due or scheduled." },
    SUCCEEDED: { description: "The receiver answered 2xx." },
    FAILED: { description: "Every scheduled attempt failed, or the endpoint was disabled." },
  },
});

@ObjectType("Event", { description: "One committed event. The payload is thin: ids, states, counts and times, never a personal-data value." })
export class Event {
  @Field(() => ID, { description: "Also the webhook-id of every delivery of this event." })
  id!: string;

  @Field(() => EventType, { description: "What happened." })
  type!: EventType;

  @Field({ description: "When it happened (service clock)." })
  occurredAt!: Date;

  @Field(() => ID, { nullable: true, description: "Null for operator events." })
  tenantId!: string | null;

  @Field(() => JSONObject, { description: "Ids, states, counts and deadlines of the objects concerned." })
  data!: Record<string, unknown>;
}

export function toEvent(row: EventRow): Event {
  return Object.assign(new Event(), { id: row.id, type: row.type, occurredAt: row.occurredAt, tenantId: row.tenantId, data: row.data });
}

@ObjectType("WebhookEndpoint", { implements: Node, description: "Where a tenant's (or the operators') events are pushed, signed (Standard Webhooks 1.0)." })
export class WebhookEndpoint extends Node {
  /** Not a field: the tenant field resolver loads by it. */
  tenantId!: string | null;

  @Field({ description: "Where deliveries are POSTed." })
  url!: string;

  @Field(() => [EventType], { description: "The event types it receives." })
  eventTypes!: EventType[];

  @Field({ description: "False once disabled: it gets no new deliveries." })
  enabled!: boolean;

  @Field(() => String, { nullable: true, description: "Why it was disabled (HTTP 410, five days of failures, or by hand)." })
  disabledReason!: string | null;

  @Field({ description: "When it was created." })
  createdAt!: Date;
}

export function toWebhookEndpoint(e: WebhookEndpointEntity): WebhookEndpoint {
  return Object.assign(new WebhookEndpoint(), {
    id: e.id,
    tenantId: e.tenantId,
    url: e.url,
    eventTypes: e.eventTypes as EventType[],
    enabled: e.enabled,
    disabledReason: e.disabledReason,
    createdAt: e.createdAt,
  });
}

@ObjectType("WebhookEndpointWithSecret", { description: "A new endpoint or a rotated secret: the only time the secret is shown." })
export class WebhookEndpointWithSecret {
  @Field(() => WebhookEndpoint, { description: "The endpoint." })
  endpoint!: WebhookEndpoint;

  @Field({ description: "whsec_ followed by base64; shown only here." })
  secret!: string;
}

@ObjectType("WebhookAttempt", { simpleResolvers: true, description: "One attempt of a delivery (the answer's body is never kept)." })
export class WebhookAttempt {
  @Field({ description: "When it was made (service clock)." })
  attemptedAt!: Date;

  @Field(() => Int, { nullable: true, description: "HTTP status, null when no answer came." })
  responseStatus!: number | null;

  @Field(() => Int, { description: "How long it took." })
  durationMs!: number;

  @Field(() => String, { nullable: true, description: "TIMEOUT, CONNECTION, REDIRECT, REFUSED_ADDRESS or HTTP; null on success." })
  errorClass!: string | null;
}

@ObjectType("WebhookDelivery", { implements: Node, description: "One event for one endpoint, with its attempts. Deliveries are not ordered." })
export class WebhookDelivery extends Node {
  /** Not fields: the event and endpoint resolvers load by them. */
  tenantId!: string | null;
  eventId!: string;
  endpointId!: string;

  @Field(() => WebhookDeliveryStatus, { description: "Where it stands." })
  status!: WebhookDeliveryStatus;

  @Field(() => [WebhookAttempt], { description: "Every attempt, oldest first." })
  attempts!: WebhookAttempt[];

  @Field(() => Date, { nullable: true, description: "When the next attempt is due (service clock); null unless PENDING." })
  nextAttemptAt!: Date | null;

  @Field({ description: "When the event was committed for this endpoint." })
  createdAt!: Date;
}

export function toWebhookDelivery(d: WebhookDeliveryEntity): WebhookDelivery {
  return Object.assign(new WebhookDelivery(), {
    id: d.id,
    tenantId: d.tenantId,
    eventId: d.eventId,
    endpointId: d.endpointId,
    status: d.status as WebhookDeliveryStatus,
    attempts: d.attempts.map((a) => ({ attemptedAt: new Date(a.at), responseStatus: a.status, durationMs: a.ms, errorClass: a.error })),
    nextAttemptAt: d.nextAttemptAt,
    createdAt: d.createdAt,
  });
}

export const { ConnectionType: WebhookDeliveryConnection, EdgeType: WebhookDeliveryEdge } = connectionTypes(WebhookDelivery, "WebhookDelivery");

@InputType("CreateWebhookEndpointInput", { description: "A new webhook endpoint." })
export class CreateWebhookEndpointInput {
  @Field(() => ID, { nullable: true, description: "A TENANT_ADMIN's own tenant (the default for that role); null for an operator endpoint (OPERATOR only)." })
  @IsOptional()
  @IsString()
  tenantId?: string | null;

  @Field({ description: `http or https (https only in production), at most ${MAX_URL_LENGTH} characters, on the public internet.` })
  @IsString()
  url!: string;

  @Field(() => [EventType], { description: "The event types it receives (at least one)." })
  @ArrayMinSize(1)
  @ArrayMaxSize(Object.keys(EventType).length)
  @IsIn(Object.values(EventType), { each: true })
  eventTypes!: EventType[];
}
