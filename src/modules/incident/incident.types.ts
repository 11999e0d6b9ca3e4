import { IsOptional, IsString, Length, Matches } from "class-validator";
import { Field, ID, InputType, ObjectType, registerEnumType } from "type-graphql";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { Node } from "../../shared/graphql/node";
import { connectionTypes } from "../../shared/pagination";
import { DataCategory } from "../personal-data/personal-data.enums";

export enum IncidentSeverity {
  LOW = "LOW",
  MEDIUM = "MEDIUM",
  HIGH = "HIGH",
  CRITICAL = "CRITICAL",
}

export enum IncidentStatus {
  INVESTIGATING = "INVESTIGATING",
  CUSTOMER_REPORTABLE = "CUSTOMER_REPORTABLE",
  DISMISSED = "DISMISSED",
  RESOLVED = "RESOLVED",
}

export enum NotificationStatus {
  SENT = "SENT",
  ACKNOWLEDGED = "ACKNOWLEDGED",
}

registerEnumType(IncidentSeverity, {
  name: "IncidentSeverity",
  description: "How serious a security incident is.",
  valuesConfig: {
    LOW: { description: "Little or no risk to the people concerned." },
    MEDIUM: { description: "Some risk to the people concerned." },
    HIGH: { description: "High risk to the people concerned." },
    CRITICAL: { description: "Severe, ongoing or widespread harm." },
  },
});

registerEnumType(IncidentStatus, {
  name: "IncidentStatus",
  description: "Where an incident stands: INVESTIGATING -> CUSTOMER_REPORTABLE -> RESOLVED, or INVESTIGATING -> DISMISSED.",
  valuesConfig: {
    INVESTIGATING: { description: "Reported; affected tenants are recorded but not yet notified." },
    CUSTOMER_REPORTABLE: { description: "A customer-reportable security incident (a breach): affected tenants are notified." },
    DISMISSED: { description: "Found not to be a breach; the reason is kept." },
    RESOLVED: { description: "A breach that has been dealt with; the resolution is kept." },
  },
});

registerEnumType(NotificationStatus, {
  name: "NotificationStatus",
  description: "Whether a tenant acknowledged its breach notification.",
  valuesConfig: {
    SENT: { description: "Sent, not yet acknowledged." },
    ACKNOWLEDGED: { description: "A tenant administrator acknowledged it." },
  },
});

@ObjectType("BreachIncident", { implements: Node, description: "A security incident that may affect tenants' personal data." })
export class BreachIncident extends Node {
  @Field({ description: "A short title." })
  title!: string;

  @Field({ description: "What happened." })
  description!: string;

  @Field(() => IncidentSeverity, { description: "How serious it is." })
  severity!: IncidentSeverity;

  @Field(() => IncidentStatus, { description: "Where it stands." })
  status!: IncidentStatus;

  @Field({ description: "When it was detected; the 72-hour clock starts here." })
  detectedAt!: Date;

  @Field({ description: "detectedAt + 72 hours." })
  notificationDeadline!: Date;

  @Field(() => [DataCategory], { description: "The kinds of personal data concerned." })
  dataCategories!: DataCategory[];

  @Field(() => String, { nullable: true, description: "How it was dealt with (RESOLVED)." })
  resolution!: string | null;

  @Field(() => Date, { nullable: true, description: "When it was resolved." })
  resolvedAt!: Date | null;

  @Field(() => String, { nullable: true, description: "Why it was dismissed (DISMISSED); operators only." })
  @Allow(Role.OPERATOR)
  dismissalReason!: string | null;

  @Field({ description: "When it was reported." })
  createdAt!: Date;
}

/** Who reads incidents and notifications (a tenant role only its own tenant's). */
export const INCIDENT_READERS: readonly Role[] = [Role.OPERATOR, Role.TENANT_ADMIN, Role.AUDITOR];

export const { ConnectionType: BreachIncidentConnection, EdgeType: BreachIncidentEdge } = connectionTypes(BreachIncident, "BreachIncident");

@ObjectType("BreachNotification", { implements: Node, description: "The notice to one affected tenant that its data was concerned in a breach." })
export class BreachNotification extends Node {
  @Field(() => NotificationStatus, { description: "SENT or ACKNOWLEDGED." })
  status!: NotificationStatus;

  @Field({ description: "When the tenant was notified." })
  sentAt!: Date;

  @Field({ description: "sentAt <= incident.notificationDeadline." })
  withinDeadline!: boolean;

  @Field(() => Date, { nullable: true, description: "When a tenant administrator acknowledged it." })
  acknowledgedAt!: Date | null;

  @Field(() => String, { nullable: true, description: "Who acknowledged it." })
  acknowledgedBy!: string | null;

  /** Not fields: loader keys. */
  incidentId!: string;
  tenantId!: string;
}

@InputType("ReportSecurityIncidentInput", { description: "A security incident as first reported." })
export class ReportSecurityIncidentInput {
  @Field({ description: "A short title, 1..200 characters." })
  @IsString()
  @Matches(/\S/, { message: "title must not be blank" })
  @Length(1, 200)
  title!: string;

  @Field({ description: "What happened, 1..5000 characters." })
  @IsString()
  @Matches(/\S/, { message: "description must not be blank" })
  @Length(1, 5000)
  description!: string;

  @Field(() => IncidentSeverity, { description: "How serious it is." })
  severity!: IncidentSeverity;

  @Field({ description: "When it was detected; not in the future." })
  detectedAt!: Date;

  @Field(() => [ID], { description: "The tenants it affects (each must exist); more can be added later." })
  affectedTenantIds!: string[];

  @Field(() => [DataCategory], { nullable: true, description: "The kinds of personal data concerned." })
  @IsOptional()
  dataCategories?: DataCategory[] | null;
}
