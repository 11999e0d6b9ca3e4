import { randomUUID } from "node:crypto";
import type { RequestContext } from "../../context";
import { principalOf } from "../../context";
import { canSeeTenant } from "../../shared/auth/scope";
import { FAIR_LOCK_CLASS, queueFairly } from "../../shared/db/fair-lock";
import { em, preparedQuery } from "../../shared/db/database";
import { BadUserInputError, NotFoundError } from "../../shared/errors";
import { isUuid } from "../../shared/ids";
import { byKeyLoader } from "../../shared/loaders";
import { jsonRow } from "../../shared/read-path/json-rows";
import { afterPosition, DEFAULT_PAGE_SIZE, pageOf, type Connection, type PageArgs } from "../../shared/pagination";
import { auditTarget } from "../../shared/audit/audit-draft";
import { locationJoin } from "../storage-location/storage-location.store";
import type { StorageLocationService } from "../storage-location/storage-location.service";
import { PLAIN_TENANT_PAGE, type TenantPagePlan } from "./tenant-joins";
import { TenantEntity } from "./tenant.entity";
import type { CreateTenantInput, RetentionPolicyInput } from "./tenant.inputs";
import { applyRetentionPolicy, SubscriptionStatus } from "./tenant.policy";
import { toTenant, type Tenant } from "./tenant.types";

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
    (ids) => em(ctx).getRepository(TenantEntity).createQueryBuilder("t").where("t.id IN (:...ids)", { ids }).getMany(),
    (t) => t.id,
    toTenant,
  );
}

function tenantRowOf(ctx: RequestContext) {
  return jsonRow<TenantEntity>(em(ctx).connection.getMetadata(TenantEntity));
}

export class TenantService {
  constructor(private readonly locations: StorageLocationService) {}

  /** Records a subscription step on the tenant row the caller holds locked (see SubscriptionService). */
  async changeSubscription(
    ctx: RequestContext,
    id: string,
    change: Pick<TenantEntity, "subscriptionStatus" | "subscriptionEndedAt" | "dataPurgeDueAt">,
  ): Promise<void> {
    await em(ctx)
      .createQueryBuilder()
      .update(TenantEntity)
      .set({ ...change, updatedAt: ctx.clock.now(), version: () => "version + 1" })
      .where("id = :id", { id })
      .execute();
  }

  /** Which of `ids` name a tenant (lower case), whatever the caller's scope: for operators naming tenants. */
  async existingIds(ctx: RequestContext, ids: readonly string[]): Promise<Set<string>> {
    const rows: Array<{ id: string }> = await em(ctx).query(`SELECT id FROM tenant WHERE id = ANY($1::uuid[])`, [
      ids.filter(isUuid).map((id) => id.toLowerCase()),
    ]);
    return new Set(rows.map((r) => r.id));
  }

  /**
   * The tenant if the caller may see it, else null: another tenant's id and a nonexistent id
   * look the same, so a tenant role never learns that another tenant exists.
   */
  async findVisible(ctx: RequestContext, id: string, options: { lock?: "update" | "share" } = {}): Promise<TenantEntity | null> {
    if (!isUuid(id) || !canSeeTenant(principalOf(ctx), id)) return null;
    const query = em(ctx).getRepository(TenantEntity).createQueryBuilder("t").where("t.id = :id", { id: id.toLowerCase() });
    // Changes to the tenant lock its row ("update") and apply one after another; writes of the
    // tenant's data hold it shared, so a subscription change never interleaves with them. Both
    // queue first (queueFairly), so a change waits only for the writes already in.
    if (options.lock) await queueFairly(em(ctx), FAIR_LOCK_CLASS.tenant, id, options.lock);
    if (options.lock === "update") query.setLock("pessimistic_write");
    if (options.lock === "share") query.setLock("pessimistic_read");
    return query.getOne();
  }

  /** A tenant the caller reached through an object already in scope (a record's, a subject's). */
  byId(ctx: RequestContext, id: string): Promise<Tenant | null> {
    return ctx.loaders.get(ctx, tenantLoader).load(id);
  }

  /** A tenant by id, if the caller may see it, in one statement with what `plan` says the query selects on it. */
  async get(ctx: RequestContext, id: string, plan?: TenantPagePlan): Promise<Tenant | null> {
    if (!plan?.joins.length) {
      const tenant = await this.findVisible(ctx, id);
      return tenant && toTenant(tenant);
    }
    if (!isUuid(id) || !canSeeTenant(principalOf(ctx), id)) return null;
    const params: unknown[] = [];
    const bind = (value: unknown) => `$${params.push(value)}`;
    const rows = await this.select(ctx, `SELECT *, 1 AS position FROM tenant WHERE id = ${bind(id.toLowerCase())}`, plan, 1, bind, params);
    const read = this.reader(ctx, plan);
    return rows.length ? read(rows[0], tenantRowOf(ctx).read(rows[0].tenant)) : null;
  }

  /**
   * Every tenant the caller may see, oldest first, in one statement with what `plan` says the
   * query selects below: the storage locations (primed into their loader) and the joined fields.
   */
  async list(ctx: RequestContext, args: PageArgs, plan: TenantPagePlan = PLAIN_TENANT_PAGE): Promise<Connection<Tenant>> {
    const principal = principalOf(ctx);
    const visibleTo = (bind: (value: unknown) => string) => (principal.role === "OPERATOR" ? "true" : `id = ${bind(principal.tenantId)}`);
    const params: unknown[] = [];
    const bind = (value: unknown) => `$${params.push(value)}`;
    const visible = visibleTo(bind);
    let cursor = "true";
    if (args.after) {
      const [at, id] = afterPosition(args.after);
      cursor = `(created_at, id) > (${bind(at)}, ${bind(id)})`;
    }
    const first = args.first ?? DEFAULT_PAGE_SIZE;
    const columns = plan.totalCount ? [`(SELECT count(*)::int FROM tenant WHERE ${visible}) AS total_count`] : [];
    const rows = await this.select(
      ctx,
      `SELECT *, row_number() OVER (ORDER BY created_at, id) AS position FROM tenant WHERE ${visible} AND ${cursor} ORDER BY created_at, id LIMIT ${bind(first + 1)}`,
      plan,
      first,
      bind,
      params,
      columns,
    );
    const tenantRow = tenantRowOf(ctx);
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
      const countParams: unknown[] = [];
      const [{ n }] = await em(ctx).query(`SELECT count(*)::int AS n FROM tenant WHERE ${visibleTo((v) => `$${countParams.push(v)}`)}`, countParams);
      page.totalCount = n;
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
    const columns = [`${tenantRowOf(ctx).sql("t")} AS tenant`, ...extraColumns];
    if (plan.storageLocation) columns.push(`${locationJoin(em(ctx)).sql("t.storage_location_code")} AS location`);
    plan.joins.forEach(({ join }, i) => columns.push(`CASE WHEN t.position <= ${bind(first)} THEN ${join.sql(bind)} END AS join_${i}`));
    return preparedQuery(em(ctx), `SELECT ${columns.join(", ")} FROM (${from}) t ORDER BY t.created_at, t.id`, params);
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
      throw new BadUserInputError("storageLocationCode", "No storage location has that code; choose one listed by `storageLocations`.");
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
    await em(ctx).getRepository(TenantEntity).insert(tenant);
    auditTarget(ctx, { tenantId: tenant.id, targetType: "Tenant", targetId: tenant.id, details: { storageLocationCode: location.code, ...policy } });
    return toTenant(tenant);
  }

  /** DOMAIN rules 6 and 8: grace 1..30 days, audit retention 1..365 days. */
  async updateRetentionPolicy(ctx: RequestContext, tenantId: string, input: RetentionPolicyInput): Promise<Tenant> {
    const tenant = await this.findVisible(ctx, tenantId, { lock: "update" });
    if (!tenant) throw new NotFoundError("tenant");
    auditTarget(ctx, { tenantId: tenant.id, targetType: "Tenant", targetId: tenant.id });
    const policy = applyRetentionPolicy(tenant, input);
    await em(ctx)
      .createQueryBuilder()
      .update(TenantEntity)
      .set({ ...policy, updatedAt: ctx.clock.now(), version: () => "version + 1" })
      .where("id = :id", { id: tenant.id })
      .execute();
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
