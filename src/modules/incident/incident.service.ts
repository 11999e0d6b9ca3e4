import { randomUUID } from "node:crypto";
import type { SelectQueryBuilder } from "typeorm";
import type { RequestContext } from "../../context";
import { onControl, onTenant, principalOf } from "../../context";
import { recordNotificationSent } from "./notification-entries";
import { loggableError } from "../../shared/logging";
import { dataScope } from "../../shared/auth/scope";
import { em } from "../../shared/db/database";
import { NotFoundError } from "../../shared/errors";
import { isUuid } from "../../shared/ids";
import { byKeyLoader, byParentLoader } from "../../shared/loaders";
import { keysetPage, type Connection, type PageArgs } from "../../shared/pagination";
import { auditTarget } from "../../shared/audit/audit-draft";
import { isGdprClockStart } from "../../shared/gdpr";
import type { AuditService } from "../audit/audit.service";
import type { TenantService } from "../tenant/tenant.service";
import { isOverdue, notificationDeadline, requireStep, withinDeadline } from "./incident-policy";
import { BreachIncidentEntity } from "./incident.entity";
import {
  acknowledgeNotification,
  addAffectedTenants,
  affectedTenantsOf,
  incidentHeld,
  incidentsQuery,
  insertIncident,
  notificationHeld,
  notificationsByIds,
  notificationsOfIncidents,
  notificationsOfTenants,
  notifyAffectedTenants,
  unnotifiedCounts,
  updateIncident,
  type NotificationRow,
} from "./incident.store";
import { BreachIncident, BreachNotification, INCIDENT_READERS, IncidentStatus, NotificationStatus, type ReportSecurityIncidentInput } from "./incident.types";
import { IncidentErrors } from "./incident.errors";

function toIncident(e: BreachIncidentEntity): BreachIncident {
  return Object.assign(new BreachIncident(), {
    id: e.id,
    title: e.title,
    description: e.description,
    severity: e.severity,
    status: e.status,
    detectedAt: e.detectedAt,
    notificationDeadline: notificationDeadline(e.detectedAt),
    dataCategories: e.dataCategories,
    resolution: e.resolution,
    resolvedAt: e.resolvedAt,
    dismissalReason: e.dismissalReason,
    createdAt: e.createdAt,
  });
}

function toNotification(r: NotificationRow): BreachNotification {
  return Object.assign(new BreachNotification(), {
    id: r.id,
    incidentId: r.incident_id,
    tenantId: r.tenant_id,
    status: r.acknowledged_at ? NotificationStatus.ACKNOWLEDGED : NotificationStatus.SENT,
    sentAt: r.sent_at,
    withinDeadline: withinDeadline(r.sent_at, r.detected_at),
    acknowledgedAt: r.acknowledged_at,
    acknowledgedBy: r.acknowledged_by,
  });
}

/** A tenant role's tenant, which narrows what it sees of an incident to its own; null for operators. */
function ownTenant(ctx: RequestContext): string | null {
  const scope = dataScope(principalOf(ctx));
  return scope.kind === "tenant" ? scope.tenantId : null;
}

/** Each incident's notifications, one statement for all the incidents a request lists. */
const notificationsByIncidentLoader = (ctx: RequestContext) =>
  byParentLoader<NotificationRow, BreachNotification>(
    (ids) => notificationsOfIncidents(em(ctx), ids, ownTenant(ctx)),
    (row) => row.incident_id,
    toNotification,
  );

/** Each tenant's notifications, one statement for all the tenants a request lists. */
const notificationsByTenantLoader = (ctx: RequestContext) =>
  byParentLoader<NotificationRow, BreachNotification>(
    (ids) => notificationsOfTenants(em(ctx), ids),
    (row) => row.tenant_id,
    toNotification,
  );

/** How many affected tenants (of the caller's scope) each incident has not notified yet. */
const unnotifiedByIncidentLoader = (ctx: RequestContext) =>
  byKeyLoader<{ incident_id: string; missing: number }, number>(
    (ids) => unnotifiedCounts(em(ctx), ids, ownTenant(ctx)),
    (row) => row.incident_id,
    (row) => row.missing,
  );

/** The tenants each incident affects, in the order they were added. */
function affectedTenantsLoader(ctx: RequestContext) {
  return byParentLoader(
    (incidentIds) => affectedTenantsOf(em(ctx), incidentIds),
    (row) => row.incident_id,
    (row) => row.tenant_id,
  );
}

/**
 * Security incidents (DOMAIN rules 22-25), kept in control: each method works on the request's
 * control context (onControl), whatever database its caller is on. Operators see everything. A tenant role sees an
 * incident once its own tenant was notified of it, only its own notification, and never the
 * other affected tenants: not who, not how many (even `overdue` is computed for its tenant alone).
 */
export class IncidentService {
  constructor(
    private readonly audit: AuditService,
    private readonly tenants: TenantService,
  ) {}

  private scoped(ctx: RequestContext): SelectQueryBuilder<BreachIncidentEntity> {
    return incidentsQuery(em(ctx), dataScope(principalOf(ctx)));
  }

  async get(request: RequestContext, id: string): Promise<BreachIncident | null> {
    const ctx = await onControl(request);
    if (!isUuid(id)) return null;
    const incident = await this.scoped(ctx).andWhere("i.id = :id", { id: id.toLowerCase() }).getOne();
    return incident && toIncident(incident);
  }

  /** The incidents among `ids` (lower-case uuids) the caller reaches, as `breachIncident(id:)` does. */
  async reachableIncidents(request: RequestContext, ids: readonly string[]): Promise<BreachIncident[]> {
    if (!INCIDENT_READERS.includes(principalOf(request).role)) return [];
    const ctx = await onControl(request);
    return (await this.scoped(ctx).andWhere("i.id IN (:...ids)", { ids }).getMany()).map(toIncident);
  }

  /** The notifications among `ids` the caller reaches: all for operators, its own tenant's for a tenant role (`breachNotifications`, an incident's `notifications`). */
  async reachableNotifications(request: RequestContext, ids: readonly string[]): Promise<BreachNotification[]> {
    if (!INCIDENT_READERS.includes(principalOf(request).role)) return [];
    const ctx = await onControl(request);
    return (await notificationsByIds(em(ctx), ids, ownTenant(ctx))).map(toNotification);
  }

  async list(request: RequestContext, args: PageArgs, status: IncidentStatus | null | undefined): Promise<Connection<BreachIncident>> {
    const ctx = await onControl(request);
    const query = this.scoped(ctx);
    if (status) query.andWhere("i.status = :status", { status });
    return keysetPage(query, args, { createdAt: "i.created_at", id: "i.id" }, (i) => [i.createdAt, i.id], toIncident);
  }

  /** `overdue` for the caller: all affected tenants for operators, its own tenant for a tenant role. */
  async overdue(request: RequestContext, incident: BreachIncident): Promise<boolean> {
    const ctx = await onControl(request);
    // An incident with no affected tenant left to notify has no row: none missing.
    const missing = (await ctx.loaders.get(ctx, unnotifiedByIncidentLoader).load(incident.id)) ?? 0;
    return isOverdue(ctx.clock.now(), incident.detectedAt, missing);
  }

  /** Every incident of the request asking is read at once. */
  async affectedTenantIds(request: RequestContext, incidentId: string): Promise<string[]> {
    const ctx = await onControl(request);
    return ctx.loaders.get(ctx, affectedTenantsLoader).load(incidentId);
  }

  /** The incident's notifications the caller may see: all for operators, its own for a tenant role. */
  async notificationsOf(request: RequestContext, incidentId: string): Promise<BreachNotification[]> {
    const ctx = await onControl(request);
    return ctx.loaders.get(ctx, notificationsByIncidentLoader).load(incidentId);
  }

  async notificationsOfTenant(request: RequestContext, tenantId: string): Promise<BreachNotification[]> {
    const ctx = await onControl(request);
    return ctx.loaders.get(ctx, notificationsByTenantLoader).load(tenantId);
  }

  async report(request: RequestContext, input: ReportSecurityIncidentInput): Promise<BreachIncident> {
    const ctx = await onControl(request);
    const now = ctx.clock.now();
    // Art. 33's clock: never in the future, never before the GDPR applied.
    if (!isGdprClockStart(input.detectedAt, now)) throw IncidentErrors.detectionTime();
    const tenantIds = await this.existingTenants(ctx, input.affectedTenantIds);
    const incident = Object.assign(new BreachIncidentEntity(), {
      id: randomUUID(),
      title: input.title.trim(),
      description: input.description,
      severity: input.severity,
      status: IncidentStatus.INVESTIGATING,
      detectedAt: input.detectedAt,
      dataCategories: [...new Set(input.dataCategories ?? [])],
      declaredAt: null,
      dismissalReason: null,
      dismissedAt: null,
      resolution: null,
      resolvedAt: null,
      createdAt: now,
      updatedAt: now,
    });
    await insertIncident(em(ctx), incident);
    await this.addAffected(ctx, incident.id, tenantIds);
    auditTarget(ctx, {
      tenantId: null,
      targetType: "BreachIncident",
      targetId: incident.id,
      details: { severity: incident.severity, affectedTenants: tenantIds.length },
    });
    return toIncident(incident);
  }

  /** Every id must name a tenant (BAD_USER_INPUT with the index of the first that does not). */
  private async existingTenants(ctx: RequestContext, ids: readonly string[]): Promise<string[]> {
    const wanted = [...new Set(ids.map((id) => id.toLowerCase()))];
    const known = await this.tenants.existingIds(ctx, wanted);
    const missing = ids.findIndex((id) => !known.has(id.toLowerCase()));
    if (missing >= 0) throw IncidentErrors.unknownAffectedTenant(missing);
    return wanted;
  }

  private async locked(ctx: RequestContext, id: string): Promise<BreachIncidentEntity> {
    const incident = isUuid(id) ? await incidentHeld(em(ctx), id.toLowerCase()) : null;
    if (!incident) throw new NotFoundError("security incident");
    auditTarget(ctx, { tenantId: null, targetType: "BreachIncident", targetId: incident.id });
    return incident;
  }

  /** Records the tenants; returns the ones that were not affected before (adding twice changes nothing). */
  private async addAffected(ctx: RequestContext, incidentId: string, tenantIds: string[]): Promise<string[]> {
    if (tenantIds.length === 0) return [];
    return addAffectedTenants(em(ctx), incidentId, tenantIds, ctx.clock.now());
  }

  /**
   * DOMAIN rule 23: notifies every affected tenant not yet notified, in the caller's transaction
   * (the state change and the notifications commit together, in control). Each tenant's own audit
   * chain, in its region, records its notification, naming only the incident: written once
   * control has committed, so a crash between the two leaves an entry missing, which the repair
   * at the region's next open writes (repairNotificationEntries), never an entry without its notification.
   */
  private async notify(ctx: RequestContext, incident: BreachIncidentEntity): Promise<number> {
    const now = ctx.clock.now();
    const sent = await notifyAffectedTenants(em(ctx), incident.id, now);
    const actor = principalOf(ctx);
    ctx.unit.afterCommit(async () => {
      for (const n of sent) {
        const notification = { ...n, incident_id: incident.id, sent_at: now, detected_at: incident.detectedAt };
        try {
          await recordNotificationSent(this.audit, em(await onTenant(ctx, n.tenant_id)), notification, actor, ctx.requestId);
        } catch (error) {
          // The notification is committed: the entry follows at the region's repair.
          ctx.log.error({ error: loggableError(error), notificationId: n.id }, "a breach notification's audit entry waits for the region's repair");
        }
      }
    });
    return sent.length;
  }

  async addTenants(request: RequestContext, incidentId: string, tenantIds: string[]): Promise<BreachIncident> {
    const ctx = await onControl(request);
    const incident = await this.locked(ctx, incidentId);
    requireStep(incident.status, "addTenants");
    const added = await this.addAffected(ctx, incident.id, await this.existingTenants(ctx, tenantIds));
    const notified = incident.status === IncidentStatus.CUSTOMER_REPORTABLE ? await this.notify(ctx, incident) : 0;
    auditTarget(ctx, { details: { tenantsAdded: added.length, notificationsSent: notified } });
    return toIncident(incident);
  }

  async declare(request: RequestContext, id: string): Promise<BreachIncident> {
    const ctx = await onControl(request);
    const incident = await this.locked(ctx, id);
    requireStep(incident.status, "declare");
    const now = ctx.clock.now();
    await updateIncident(em(ctx), incident.id, { status: IncidentStatus.CUSTOMER_REPORTABLE, declaredAt: now, updatedAt: now });
    Object.assign(incident, { status: IncidentStatus.CUSTOMER_REPORTABLE, declaredAt: now });
    const notified = await this.notify(ctx, incident);
    auditTarget(ctx, { details: { notificationsSent: notified, withinDeadline: withinDeadline(now, incident.detectedAt) } });
    return toIncident(incident);
  }

  async dismiss(request: RequestContext, id: string, reason: string): Promise<BreachIncident> {
    const ctx = await onControl(request);
    const incident = await this.locked(ctx, id);
    if (!/\S/.test(reason) || reason.length > 2000) throw IncidentErrors.dismissalReason();
    requireStep(incident.status, "dismiss");
    const now = ctx.clock.now();
    const change = { status: IncidentStatus.DISMISSED, dismissalReason: reason, dismissedAt: now, updatedAt: now };
    await updateIncident(em(ctx), incident.id, change);
    return toIncident(Object.assign(incident, change));
  }

  async resolve(request: RequestContext, id: string, resolution: string): Promise<BreachIncident> {
    const ctx = await onControl(request);
    const incident = await this.locked(ctx, id);
    if (!/\S/.test(resolution) || resolution.length > 2000) throw IncidentErrors.resolutionText();
    requireStep(incident.status, "resolve");
    const now = ctx.clock.now();
    const change = { status: IncidentStatus.RESOLVED, resolution, resolvedAt: now, updatedAt: now };
    await updateIncident(em(ctx), incident.id, change);
    return toIncident(Object.assign(incident, change));
  }

  /** DOMAIN rule 24: the tenant's administrator acknowledges its own notification; twice changes nothing. */
  async acknowledge(request: RequestContext, notificationId: string): Promise<BreachNotification> {
    const ctx = await onControl(request);
    const scope = dataScope(principalOf(ctx));
    const row = isUuid(notificationId) && scope.kind === "tenant" ? await notificationHeld(em(ctx), notificationId.toLowerCase(), scope.tenantId) : null;
    if (!row) throw new NotFoundError("breach notification");
    auditTarget(ctx, { tenantId: row.tenant_id, targetType: "BreachNotification", targetId: row.id, details: { incidentId: row.incident_id } });
    if (row.acknowledged_at) {
      auditTarget(ctx, { details: { incidentId: row.incident_id, alreadyAcknowledged: true } });
      return toNotification(row);
    }
    const now = ctx.clock.now();
    const by = principalOf(ctx).subject;
    await acknowledgeNotification(em(ctx), row.id, now, by);
    return toNotification({ ...row, acknowledged_at: now, acknowledged_by: by });
  }
}
