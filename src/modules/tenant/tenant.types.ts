import { Field, Int, ObjectType, registerEnumType } from "type-graphql";
import { Node } from "../../shared/graphql/node";
import { connectionTypes } from "../../shared/pagination";
import type { TenantEntity } from "./tenant.entity";
import { SubscriptionStatus } from "./tenant.policy";

registerEnumType(SubscriptionStatus, {
  name: "SubscriptionStatus",
  description: "Where the tenant's subscription stands.",
  valuesConfig: {
    ACTIVE: { description: "The subscription is active." },
    ENDED: { description: "Subscription ended: all personal data is pending passive deletion." },
    PURGED: { description: "Passive deletion completed: no personal data of the tenant remains." },
  },
});

@ObjectType("RetentionPolicy", { simpleResolvers: true, description: "How long a tenant's deleted data and audit entries are kept." })
export class RetentionPolicyType {
  @Field(() => Int, { description: "Days between a deletion and the purge of the data: 1..30, default 30." })
  deletionGraceDays!: number;

  @Field(() => Int, { description: "Days an audit log entry is kept: 1..365, default 365." })
  auditLogRetentionDays!: number;
}

/** The GraphQL view of a tenant; kept apart from the entity so a new column never leaks. */
@ObjectType("Tenant", { implements: Node, simpleResolvers: true, description: "A customer of the service, whose personal data Custodian holds." })
export class Tenant extends Node {
  @Field({ description: "The tenant's name." })
  name!: string;

  @Field(() => SubscriptionStatus, { description: "Where the subscription stands." })
  subscriptionStatus!: SubscriptionStatus;

  @Field(() => Date, { nullable: true, description: "When the subscription ended; null while active." })
  subscriptionEndedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: "When passive deletion purges the tenant's personal data (subscription end + grace)." })
  dataPurgeDueAt!: Date | null;

  @Field(() => RetentionPolicyType, { description: "The tenant's retention policy." })
  retentionPolicy!: RetentionPolicyType;

  @Field({ description: "When the tenant was created." })
  createdAt!: Date;

  /** Not a field: the key the storageLocation field resolver loads by. */
  storageLocationCode!: string;
}

export function toTenant(e: TenantEntity): Tenant {
  return Object.assign(new Tenant(), {
    id: e.id,
    name: e.name,
    subscriptionStatus: e.subscriptionStatus,
    subscriptionEndedAt: e.subscriptionEndedAt,
    dataPurgeDueAt: e.dataPurgeDueAt,
    retentionPolicy: { deletionGraceDays: e.deletionGraceDays, auditLogRetentionDays: e.auditLogRetentionDays },
    createdAt: e.createdAt,
    storageLocationCode: e.storageLocationCode,
  });
}

export const { ConnectionType: TenantConnection, EdgeType: TenantEdge } = connectionTypes(Tenant, "Tenant");
