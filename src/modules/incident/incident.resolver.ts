import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { PageArgs } from "../../shared/pagination";
import { Audited } from "../../shared/audit/audited";
import type { TenantService } from "../tenant/tenant.service";
import { Tenant } from "../tenant/tenant.types";
import type { IncidentService } from "./incident.service";
import { BreachIncident, BreachIncidentConnection, BreachNotification, INCIDENT_READERS, IncidentStatus, ReportSecurityIncidentInput } from "./incident.types";

/** Who reads incidents: operators all, a tenant's administrator and auditor those their tenant was notified of. */

@Resolver(() => BreachIncident)
export class IncidentResolver {
  constructor(
    private readonly incidents: IncidentService,
    private readonly tenants: TenantService,
  ) {}

  @Query(() => BreachIncidentConnection, {
    description: "Security incidents, oldest first: all for operators, those your tenant was notified of for tenant roles.",
  })
  @Allow(...INCIDENT_READERS)
  breachIncidents(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgs,
    @Arg("status", () => IncidentStatus, { description: "Only incidents in this state; every state when omitted.", nullable: true })
    status: IncidentStatus | null,
  ) {
    return this.incidents.list(ctx, page, status);
  }

  @Query(() => BreachIncident, { nullable: true, description: "An incident by id; null when it does not exist or your tenant was not notified of it." })
  @Allow(...INCIDENT_READERS)
  breachIncident(@Ctx() ctx: RequestContext, @Arg("id", () => ID, { description: "The incident's id." }) id: string) {
    return this.incidents.get(ctx, id);
  }

  @Mutation(() => BreachIncident, { description: "Reports a security incident; the 72-hour clock starts at detectedAt." })
  @Allow(Role.OPERATOR)
  @Audited("SECURITY_INCIDENT_REPORTED")
  reportSecurityIncident(
    @Ctx() ctx: RequestContext,
    @Arg("input", () => ReportSecurityIncidentInput, { description: "What happened and when it was detected: the 72-hour clock starts there." })
    input: ReportSecurityIncidentInput,
  ) {
    return this.incidents.report(ctx, input);
  }

  @Mutation(() => BreachIncident, {
    description: "Adds affected tenants; on a customer-reportable incident they are notified at once. Adding twice changes nothing.",
  })
  @Allow(Role.OPERATOR)
  @Audited("AFFECTED_TENANTS_ADDED")
  addAffectedTenants(
    @Ctx() ctx: RequestContext,
    @Arg("incidentId", () => ID, { description: "The incident." }) incidentId: string,
    @Arg("tenantIds", () => [ID], { description: "The tenants it affects; those already affected stay as they are." }) tenantIds: string[],
  ) {
    return this.incidents.addTenants(ctx, incidentId, tenantIds);
  }

  @Mutation(() => BreachIncident, { description: "Identifies the incident as customer-reportable and notifies every affected tenant." })
  @Allow(Role.OPERATOR)
  @Audited("INCIDENT_DECLARED_CUSTOMER_REPORTABLE")
  declareCustomerReportable(@Ctx() ctx: RequestContext, @Arg("incidentId", () => ID, { description: "The incident under investigation." }) incidentId: string) {
    return this.incidents.declare(ctx, incidentId);
  }

  @Mutation(() => BreachIncident, { description: "Closes an incident under investigation as not a breach; the reason is required." })
  @Allow(Role.OPERATOR)
  @Audited("SECURITY_INCIDENT_DISMISSED")
  dismissSecurityIncident(
    @Ctx() ctx: RequestContext,
    @Arg("incidentId", () => ID, { description: "The incident under investigation." }) incidentId: string,
    @Arg("reason", { description: "Why it is not a breach (required; kept with the incident, so no personal data)." }) reason: string,
  ) {
    return this.incidents.dismiss(ctx, incidentId, reason);
  }

  @Mutation(() => BreachIncident, { description: "Closes a customer-reportable incident with its resolution." })
  @Allow(Role.OPERATOR)
  @Audited("SECURITY_INCIDENT_RESOLVED")
  resolveSecurityIncident(
    @Ctx() ctx: RequestContext,
    @Arg("incidentId", () => ID, { description: "The customer-reportable incident." }) incidentId: string,
    @Arg("resolution", { description: "How it was resolved (kept with the incident, so no personal data)." }) resolution: string,
  ) {
    return this.incidents.resolve(ctx, incidentId, resolution);
  }

  @Mutation(() => BreachNotification, { description: "The tenant administrator acknowledges the tenant's notification; twice changes nothing." })
  @Allow(Role.TENANT_ADMIN)
  @Audited("BREACH_NOTIFICATION_ACKNOWLEDGED")
  acknowledgeBreachNotification(
    @Ctx() ctx: RequestContext,
    @Arg("notificationId", () => ID, { description: "Your tenant's notification." }) notificationId: string,
  ) {
    return this.incidents.acknowledge(ctx, notificationId);
  }

  @FieldResolver(() => Boolean, {
    description: "True while the deadline has passed and an affected tenant has not been notified (for a tenant role: its own tenant).",
  })
  overdue(@Ctx() ctx: RequestContext, @Root() incident: BreachIncident) {
    return this.incidents.overdue(ctx, incident);
  }

  @FieldResolver(() => [Tenant], { description: "Operators only: tenants never learn which other tenants were affected." })
  @Allow(Role.OPERATOR)
  async affectedTenants(@Ctx() ctx: RequestContext, @Root() incident: BreachIncident): Promise<Tenant[]> {
    const ids = await this.incidents.affectedTenantIds(ctx, incident.id);
    return (await Promise.all(ids.map((id) => this.tenants.byId(ctx, id)))).filter((t): t is Tenant => t !== null);
  }

  @FieldResolver(() => [BreachNotification], { description: "Operators see all; a tenant administrator sees only their tenant's." })
  notifications(@Ctx() ctx: RequestContext, @Root() incident: BreachIncident) {
    return this.incidents.notificationsOf(ctx, incident.id);
  }
}

@Resolver(() => BreachNotification)
export class BreachNotificationResolver {
  constructor(
    private readonly incidents: IncidentService,
    private readonly tenants: TenantService,
  ) {}

  @FieldResolver(() => BreachIncident, { description: "The incident the tenant was notified of." })
  async incident(@Ctx() ctx: RequestContext, @Root() notification: BreachNotification): Promise<BreachIncident> {
    return (await this.incidents.get(ctx, notification.incidentId))!;
  }

  @FieldResolver(() => Tenant, { description: "The tenant notified." })
  async tenant(@Ctx() ctx: RequestContext, @Root() notification: BreachNotification): Promise<Tenant> {
    return (await this.tenants.byId(ctx, notification.tenantId))!;
  }
}

@Resolver(() => Tenant)
export class TenantBreachNotificationsResolver {
  constructor(private readonly incidents: IncidentService) {}

  @FieldResolver(() => [BreachNotification], { description: "The breach notifications sent to the tenant, oldest first." })
  @Allow(...INCIDENT_READERS)
  breachNotifications(@Ctx() ctx: RequestContext, @Root() tenant: Tenant) {
    return this.incidents.notificationsOfTenant(ctx, tenant.id);
  }
}
