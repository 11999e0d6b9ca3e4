import { onTenant, type RequestContext } from "../../context";
import { EventType } from "../events/event-type";
import { emit } from "../events/outbox";
import { NotFoundError } from "../../shared/errors";
import { auditTarget } from "../../shared/audit/audit-draft";
import { activeDeletion } from "../tenant/deletion-plan";
import type { RecordDeletion } from "../personal-data/record-deletion";
import { SubscriptionStatus } from "../tenant/tenant.policy";
import type { TenantService } from "../tenant/tenant.service";
import { toTenant, type Tenant } from "../tenant/tenant.types";
import { SubscriptionErrors } from "./subscription.errors";

/**
 * The subscription lifecycle (DOMAIN rules 5 and 7). Both steps lock the tenant row: record
 * writes hold it shared, so no record is written between the status check and the change.
 */
export class SubscriptionService {
  constructor(
    private readonly tenants: TenantService,
    private readonly deletion: RecordDeletion,
  ) {}

  private async lockedTenant(ctx: RequestContext, tenantId: string) {
    const tenant = await this.tenants.findVisible(ctx, tenantId, { lock: "update" });
    if (!tenant) throw new NotFoundError("tenant");
    auditTarget(ctx, { tenantId: tenant.id, targetType: "Tenant", targetId: tenant.id });
    return tenant;
  }

  /** Passive deletion: the tenant ENDED, every active record pending until now + grace. */
  async end(request: RequestContext, tenantId: string): Promise<Tenant> {
    // In the tenant's region: its row and its records change in one transaction there.
    const ctx = await onTenant(request, tenantId);
    const tenant = await this.lockedTenant(ctx, tenantId);
    if (tenant.subscriptionStatus !== SubscriptionStatus.ACTIVE) {
      throw SubscriptionErrors.notActive(tenant.subscriptionStatus);
    }
    const plan = activeDeletion(ctx.clock.now(), tenant.deletionGraceDays);
    const records = await this.deletion.deleteOfEndedTenant(ctx, tenant.id, plan);
    const change = { subscriptionStatus: SubscriptionStatus.ENDED, subscriptionEndedAt: plan.requestedAt, dataPurgeDueAt: plan.purgeDueAt };
    await this.tenants.changeSubscription(ctx, tenant.id, change);
    auditTarget(ctx, { details: { recordsPendingDeletion: records, dataPurgeDueAt: plan.purgeDueAt.toISOString() } });
    await emit(ctx, tenant.id, EventType.SUBSCRIPTION_ENDED, {
      tenantId: tenant.id,
      recordsPendingDeletion: records,
      dataPurgeDueAt: plan.purgeDueAt.toISOString(),
    });
    return toTenant(Object.assign(tenant, change));
  }

  /** Only before the purge is due: the records passive deletion took become active again. */
  async reactivate(request: RequestContext, tenantId: string): Promise<Tenant> {
    const ctx = await onTenant(request, tenantId);
    const tenant = await this.lockedTenant(ctx, tenantId);
    if (tenant.subscriptionStatus !== SubscriptionStatus.ENDED) {
      throw SubscriptionErrors.notEnded(tenant.subscriptionStatus);
    }
    const now = ctx.clock.now();
    if (tenant.dataPurgeDueAt && tenant.dataPurgeDueAt <= now) {
      throw SubscriptionErrors.purgeDue();
    }
    const records = await this.deletion.restoreOfReactivatedTenant(ctx, tenant.id, now);
    const change = { subscriptionStatus: SubscriptionStatus.ACTIVE, subscriptionEndedAt: null, dataPurgeDueAt: null };
    await this.tenants.changeSubscription(ctx, tenant.id, change);
    auditTarget(ctx, { details: { recordsRestored: records } });
    return toTenant(Object.assign(tenant, change));
  }
}
