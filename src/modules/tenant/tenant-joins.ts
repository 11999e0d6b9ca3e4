import type { GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema } from "graphql";
import type { RequestContext } from "../../context";
import { principalOf } from "../../context";
import { allowedRoles } from "../../shared/auth/allow";
import { connectionNodeFields, fieldsOn, selectionOf, selects, type ResolveTree } from "../../shared/graphql/lookahead";
import type { Tenant } from "./tenant.types";

/**
 * A field of Tenant whose data the tenants page (and `tenant(id)`) fetches in its own statement
 * (look-ahead), so a dashboard of N tenants with their records is one SQL statement whatever N
 * and the page sizes.
 */
export interface TenantJoin {
  /** A scalar SQL expression over the tenant row `t` (JSON); `bind` adds a parameter and returns its placeholder. */
  sql(bind: (value: unknown) => string): string;
  /** Hands one tenant's value of that expression to the field's resolver (see leaveFor). */
  attach(ctx: RequestContext, tenant: Tenant, value: unknown): void;
}

/** Plans a join for one selection of the field, or null to leave it to the field's own resolver. */
export type TenantJoinPlanner = (ctx: RequestContext, field: ResolveTree) => TenantJoin | null;

const planners = new Map<string, TenantJoinPlanner>();

/** Registered by the feature that owns the field (records register `personalDataRecords`). */
export function joinTenantField(fieldName: string, planner: TenantJoinPlanner): void {
  planners.set(fieldName, planner);
}

export interface TenantPagePlan {
  totalCount: boolean;
  storageLocation: boolean;
  joins: Array<{ responseKey: string; join: TenantJoin }>;
}

export const PLAIN_TENANT_PAGE: TenantPagePlan = { totalCount: true, storageLocation: false, joins: [] };

/** What a query for a page of tenants selects below it, as far as the page's statement can fetch it. */
export function planTenantPage(ctx: RequestContext, info: GraphQLResolveInfo): TenantPagePlan {
  const tree = selectionOf(info);
  if (!tree) return PLAIN_TENANT_PAGE;
  const fields = connectionNodeFields(tree, "TenantConnection", "TenantEdge", "Tenant") ?? {};
  return { totalCount: selects(tree, "TenantConnection", "totalCount"), ...planTenantFields(ctx, info.schema, fields) };
}

/** What a query for one tenant selects on it, as far as the tenant's statement can fetch it. */
export function planTenant(ctx: RequestContext, info: GraphQLResolveInfo): TenantPagePlan {
  const tree = selectionOf(info);
  return { totalCount: false, ...planTenantFields(ctx, info.schema, tree ? fieldsOn(tree, "Tenant") : {}) };
}

function planTenantFields(ctx: RequestContext, schema: GraphQLSchema, fields: Record<string, ResolveTree>): Omit<TenantPagePlan, "totalCount"> {
  const tenantFields = (schema.getType("Tenant") as GraphQLObjectType).getFields();
  const role = principalOf(ctx).role;
  const joins: TenantPagePlan["joins"] = [];
  for (const [responseKey, field] of Object.entries(fields)) {
    const planner = planners.get(field.name);
    if (!planner) continue;
    // Nothing is fetched for a field the caller's role may not read: its guard refuses it anyway.
    const roles = allowedRoles(tenantFields[field.name]);
    if (roles && !roles.includes(role)) continue;
    const join = planner(ctx, field);
    if (join) joins.push({ responseKey, join });
  }
  return { storageLocation: Object.values(fields).some((f) => f.name === "storageLocation"), joins };
}
