import { randomUUID } from "node:crypto";
import type { RequestContext } from "../../context";
import { acrossRegions, onControl, onLocation, onTenant, principalOf } from "../../context";
import { canSeeTenant } from "../../shared/auth/scope";
import { em } from "../../shared/db/database";
import { NotFoundError } from "../../shared/errors";
import { isUuid } from "../../shared/ids";
import { byKeyLoader } from "../../shared/loaders";
import { afterPosition, DEFAULT_PAGE_SIZE, pageOf, type Connection, type PageArgs } from "../../shared/pagination";
import { auditTarget } from "../../shared/audit/audit-draft";
import { locationJoin } from "../storage-location/storage-location.store";
import type { StorageLocationService } from "../storage-location/storage-location.service";
import { PLAIN_TENANT_PAGE, type TenantPagePlan } from "./tenant-joins";
import { TenantEntity } from "./tenant.entity";
import type { CreateTenantInput, RetentionPolicyInput } from "./tenant.inputs";
import { applyRetentionPolicy, SubscriptionStatus } from "./tenant.policy";
import {
  countTenants,
  existingTenantIds,
  insertTenant,
  mirrorTenant,
  tenantDirectoryPage,
  tenantsByIdsSource,
  oneTenantSource,
  selectTenants,
  tenantById,
  tenantJsonRow,
  tenantPageSource,
  tenantsByIds,
  updateTenant,
  type VisibleTenants,
} from "./tenant.store";
import { toTenant, type Tenant } from "./tenant.types";
import { LocationErrors } from "../storage-location/storage-location.errors";

/** A row of the tenants page: the tenant as JSON, its location, and one column per joined field (join_0, ...). */
interface TenantPageRow {
  tenant: unknown[];
  location?: unknown[] | null;
  total_count?: number;
  [join: `join_${number}`]: unknown;
}

/** Per-request loader of tenants by id, for objects already known to be in the caller's scope. */
export function tenantLoader(ctx: RequestContext) {
  return byKeyLoader(
    (ids) => tenantsByIds(em(ctx), ids),
    (t) => t.id,
    toTenant,
  );
}

/** Tenant ids by their location's code, each group in the order given. */
function idsByLocation(located: Iterable<readonly [id: string, code: string]>): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const [id, code] of located) {
    const group = groups.get(code);
    if (group) group.push(id);
    else groups.set(code, [id]);
  }
  return groups;
}

export class TenantService {
  constructor(private readonly locations: StorageLocationService) {}

  /** Records a subscription step on the tenant row the caller holds locked (see SubscriptionService). */
  async changeSubscription(
    ctx: RequestContext,
    id: string,
    change: Pick<TenantEntity, "subscriptionStatus" | "subscriptionEndedAt" | "dataPurgeDueAt">,
  ): Promise<void> {
    await this.update(ctx, id, change);
  }

  /**
   * Changes a tenant's row in its region (the truth, with the tenant's data in the same
   * transaction) and then its directory entry in control, which commits after the region.
   */
  private async update(request: RequestContext, id: string, change: Partial<TenantEntity>): Promise<void> {
    const now = request.clock.now();
    const region = await onTenant(request, id);
    await updateTenant(em(region), id, change, now);
    const row = await tenantById(em(region), id);
    if (row) await mirrorTenant(em(await onControl(request)), row);
  }

  /** Which of `ids` name a tenant (lower case), whatever the caller's scope: for operators naming tenants. */
  async existingIds(ctx: RequestContext, ids: readonly string[]): Promise<Set<string>> {
    return existingTenantIds(
      em(ctx),
      ids.filter(isUuid).map((id) => id.toLowerCase()),
    );
  }

  /**
   * The tenant if the caller may see it, else null: another tenant's id and a nonexistent id
   * look the same, so a tenant role never learns that another tenant exists.
   */
  async findVisible(request: RequestContext, id: string, options: { lock?: "update" | "share" } = {}): Promise<TenantEntity | null> {
    if (!isUuid(id) || !canSeeTenant(principalOf(request), id)) return null;
    // The tenant's own row, in its region: the truth, locked with its data.
    const ctx = await onTenant(request, id);
    return tenantById(em(ctx), id.toLowerCase(), options.lock);
  }

  /** A tenant the caller reached through an object already in scope (a record's, a subject's). */
  byId(ctx: RequestContext, id: string): Promise<Tenant | null> {
    return ctx.loaders.get(ctx, tenantLoader).load(id);
  }

  /** The tenants among `ids` (lower-case uuids) the caller may see, each read in its region as `tenant(id:)` reads it. */
  async reachable(request: RequestContext, ids: readonly string[]): Promise<Tenant[]> {
    const principal = principalOf(request);
    const visible = ids.filter((id) => canSeeTenant(principal, id));
    if (!visible.length) return [];
    const byLocation = idsByLocation(await request.topology.locateAll(visible));
    const found = await acrossRegions(request, (on, code) => tenantsByIds(em(on), byLocation.get(code)!), [...byLocation.keys()]);
    return found.flat().map(toTenant);
  }

  /** A tenant by id, if the caller may see it, in one statement with what `plan` says the query selects on it. */
  async get(request: RequestContext, id: string, plan?: TenantPagePlan): Promise<Tenant | null> {
    if (!plan?.joins.length) {
      const tenant = await this.findVisible(request, id);
      return tenant && toTenant(tenant);
    }
    if (!isUuid(id) || !canSeeTenant(principalOf(request), id)) return null;
    const ctx = await onTenant(request, id);
    const params: unknown[] = [];
    const bind = (value: unknown) => `$${params.push(value)}`;
    const rows = await this.select(ctx, oneTenantSource(bind, id.toLowerCase()), plan, 1, bind, params);
    const read = this.reader(ctx, plan);
    return rows.length ? read(rows[0], tenantJsonRow(em(ctx)).read(rows[0].tenant)) : null;
  }

  /**
   * Every tenant the caller may see, oldest first, in one statement with what `plan` says the
   * query selects below: the storage locations (primed into their loader) and the joined fields.
   */
  async list(ctx: RequestContext, args: PageArgs, plan: TenantPagePlan = PLAIN_TENANT_PAGE): Promise<Connection<Tenant>> {
    const principal = principalOf(ctx);
    if (principal.role === "OPERATOR") return this.listEverywhere(ctx, args, plan);
    return this.listOn(ctx, args, plan, { all: false, tenantId: principal.tenantId });
  }

  /**
   * Every tenant's page, for operators. Control's directory gives the page: which tenants, in
   * the page's order (oldest first, then id; a cursor means the same in every region), whether
   * more follow, and the count. Then each region holding some of them reads just those, with
   * what the query selects below them, side by side; they are answered in the directory's order.
   * A region that does not answer leaves its tenants out, and the answer says so (acrossRegions).
   */
  private async listEverywhere(ctx: RequestContext, args: PageArgs, plan: TenantPagePlan): Promise<Connection<Tenant>> {
    const first = args.first ?? DEFAULT_PAGE_SIZE;
    const directory = await tenantDirectoryPage(em(await onControl(ctx)), args.after ? afterPosition(args.after) : null, first + 1, plan.totalCount);
    const onPage = directory.rows.slice(0, first);
    for (const { id, code } of onPage) ctx.topology.remember(id, code);
    const byLocation = idsByLocation(onPage.map(({ id, code }) => [id, code] as const));
    const read = await acrossRegions(ctx, (region, location) => this.readTenants(region, byLocation.get(location)!, plan), [...byLocation.keys()]);
    const tenants = new Map(read.flat().map((t) => [t.id, t]));
    // A tenant the directory lists and its region does not hold cannot be answered: left out, as
    // are those of a region that did not answer (which the answer names).
    const answered = onPage.flatMap(({ id }) => tenants.get(id) ?? []);
    const page = pageOf(
      answered,
      first,
      directory.total ?? 0,
      (t) => [t.createdAt, t.id],
      (t) => t,
    );
    page.pageInfo.hasNextPage = directory.rows.length > first;
    return page;
  }

  /** The tenants `ids` of one region, with what `plan` fetches for them: one statement. */
  private async readTenants(ctx: RequestContext, ids: string[], plan: TenantPagePlan): Promise<Tenant[]> {
    const params: unknown[] = [];
    const bind = (value: unknown) => `$${params.push(value)}`;
    const rows = await this.select(ctx, tenantsByIdsSource(bind, ids), plan, ids.length, bind, params);
    const tenantRow = tenantJsonRow(em(ctx));
    const read = this.reader(ctx, plan);
    return rows.map((row) => read(row, tenantRow.read(row.tenant)));
  }

  /** One database's page of the tenants `visibleTo` names. */
  private async listOn(ctx: RequestContext, args: PageArgs, plan: TenantPagePlan, visibleTo: VisibleTenants): Promise<Connection<Tenant>> {
    const params: unknown[] = [];
    const bind = (value: unknown) => `$${params.push(value)}`;
    const first = args.first ?? DEFAULT_PAGE_SIZE;
    const { source, countColumn } = tenantPageSource(bind, visibleTo, args.after ? afterPosition(args.after) : null, first + 1);
    const rows = await this.select(ctx, source, plan, first, bind, params, plan.totalCount ? [countColumn] : []);
    const tenantRow = tenantJsonRow(em(ctx));
    const tenants = rows.map((row) => ({ row, entity: tenantRow.read(row.tenant) }));
    const read = this.reader(ctx, plan);
    const page = pageOf(
      tenants,
      first,
      rows[0]?.total_count ?? 0,
      ({ entity }) => [entity.createdAt, entity.id],
      ({ row, entity }) => read(row, entity),
    );
    if (plan.totalCount && rows.length === 0) {
      // Past the last cursor no row carried the count: ask for it alone.
      page.totalCount = await countTenants(em(ctx), visibleTo);
    }
    return page;
  }

  /**
   * The tenants `from` selects (with a `position`, 1 for the first), each with what `plan` fetches
   * for it: its storage location and the joined fields, these only for the first `first` (a page's
   * extra row only tells whether more follow). One prepared statement.
   */
  private select(
    ctx: RequestContext,
    from: string,
    plan: TenantPagePlan,
    first: number,
    bind: (value: unknown) => string,
    params: unknown[],
    extraColumns: string[] = [],
  ): Promise<TenantPageRow[]> {
    const columns = [...extraColumns];
    if (plan.storageLocation) columns.push(`${locationJoin(em(ctx)).sql("t.storage_location_code")} AS location`);
    plan.joins.forEach(({ join }, i) => columns.push(`CASE WHEN t.position <= ${bind(first)} THEN ${join.sql(bind)} END AS join_${i}`));
    return selectTenants<TenantPageRow>(em(ctx), from, columns, params);
  }

  /** Reads a tenant from its row of `select`: its location primed into the loader, its joined fields left for them. */
  private reader(ctx: RequestContext, plan: TenantPagePlan): (row: TenantPageRow, entity: TenantEntity) => Tenant {
    const location = locationJoin(em(ctx));
    const locations = this.locations.loader(ctx);
    return (row, entity) => {
      const tenant = toTenant(entity);
      if (row.location) {
        const read = location.read(row.location);
        locations.prime(read.code, read);
      }
      plan.joins.forEach(({ join }, i) => join.attach(ctx, tenant, row[`join_${i}`]));
      return tenant;
    };
  }

  /** DOMAIN rule 2: the tenant's storage location is chosen at creation and must exist. */
  async create(ctx: RequestContext, input: CreateTenantInput): Promise<Tenant> {
    const location = await this.locations.byCode(ctx, input.storageLocationCode);
    if (!location) {
      throw LocationErrors.unknownCode("storageLocationCode");
    }
    const policy = applyRetentionPolicy(null, input.retentionPolicy, "retentionPolicy.");
    const now = ctx.clock.now();
    const tenant = Object.assign(new TenantEntity(), {
      id: randomUUID(),
      name: input.name.trim(),
      storageLocationCode: location.code,
      subscriptionStatus: SubscriptionStatus.ACTIVE,
      subscriptionEndedAt: null,
      dataPurgeDueAt: null,
      ...policy,
      createdAt: now,
      updatedAt: now,
      version: 1,
    });
    // The region's row first (it commits first, with the entry in the tenant's chain), then
    // control's directory entry: a crash between them is repaired from the region at its next open.
    ctx.topology.remember(tenant.id, location.code);
    await insertTenant(em(await onLocation(ctx, location.code)), tenant);
    await insertTenant(em(await onControl(ctx)), tenant);
    auditTarget(ctx, { tenantId: tenant.id, targetType: "Tenant", targetId: tenant.id, details: { storageLocationCode: location.code, ...policy } });
    return toTenant(tenant);
  }

  /** DOMAIN rules 6 and 8: grace 1..30 days, audit retention 1..365 days. */
  async updateRetentionPolicy(ctx: RequestContext, tenantId: string, input: RetentionPolicyInput): Promise<Tenant> {
    const tenant = await this.findVisible(ctx, tenantId, { lock: "update" });
    if (!tenant) throw new NotFoundError("tenant");
    auditTarget(ctx, { tenantId: tenant.id, targetType: "Tenant", targetId: tenant.id });
    const policy = applyRetentionPolicy(tenant, input);
    await this.update(ctx, tenant.id, policy);
    auditTarget(ctx, {
      details: {
        deletionGraceDaysBefore: tenant.deletionGraceDays,
        deletionGraceDays: policy.deletionGraceDays,
        auditLogRetentionDaysBefore: tenant.auditLogRetentionDays,
        auditLogRetentionDays: policy.auditLogRetentionDays,
      },
    });
    return toTenant(Object.assign(tenant, policy));
  }
}
