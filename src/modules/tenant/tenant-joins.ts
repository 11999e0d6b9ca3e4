import type { GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema } from "graphql";
import type { RequestContext } from "../../context";
import { principalOf } from "../../context";
import { allowedRoles } from "../../shared/auth/allow";
import { connectionNodeFields, fieldsOn, selectionOf, selects, type ResolveTree } from "../../shared/read-path/lookahead";
import type { JoinPlanner, JoinRegistry, ParentJoin } from "../../shared/read-path/joins";
import type { Tenant } from "./tenant.types";

/** A join below a tenant (see the read path's registry, shared/read-path/joins.ts). */
export type TenantJoin = ParentJoin<RequestContext, Tenant>;
export type TenantJoinPlanner = JoinPlanner<RequestContext, Tenant>;

export interface TenantPagePlan {
  totalCount: boolean;
  storageLocation: boolean;
  joins: Array<{ responseKey: string; join: TenantJoin }>;
}

export const PLAIN_TENANT_PAGE: TenantPagePlan = { totalCount: true, storageLocation: false, joins: [] };

/** What a query for a page of tenants selects below it, as far as the page's statement can fetch it. */
export function planTenantPage(ctx: RequestContext, info: GraphQLResolveInfo, registry: JoinRegistry<RequestContext>): TenantPagePlan {
  const tree = selectionOf(info);
  if (!tree) return PLAIN_TENANT_PAGE;
  const fields = connectionNodeFields(tree, "TenantConnection", "TenantEdge", "Tenant") ?? {};
  return { totalCount: selects(tree, "TenantConnection", "totalCount"), ...planTenantFields(ctx, info.schema, fields, registry) };
}

/** What a query for one tenant selects on it, as far as the tenant's statement can fetch it. */
export function planTenant(ctx: RequestContext, info: GraphQLResolveInfo, registry: JoinRegistry<RequestContext>): TenantPagePlan {
  const tree = selectionOf(info);
  return { totalCount: false, ...planTenantFields(ctx, info.schema, tree ? fieldsOn(tree, "Tenant") : {}, registry) };
}

function planTenantFields(
  ctx: RequestContext,
  schema: GraphQLSchema,
  fields: Record<string, ResolveTree>,
  registry: JoinRegistry<RequestContext>,
): Omit<TenantPagePlan, "totalCount"> {
  const tenantFields = (schema.getType("Tenant") as GraphQLObjectType).getFields();
  const role = principalOf(ctx).role;
  const joins: TenantPagePlan["joins"] = [];
  for (const [responseKey, field] of Object.entries(fields)) {
    const planner = registry.plannerOf<Tenant>("Tenant", field.name);
    if (!planner) continue;
    // Nothing is fetched for a field the caller's role may not read: its guard refuses it anyway.
    const roles = allowedRoles(tenantFields[field.name]);
    if (roles && !roles.includes(role)) continue;
    const join = planner(ctx, field);
    if (join) joins.push({ responseKey, join });
  }
  return { storageLocation: Object.values(fields).some((f) => f.name === "storageLocation"), joins };
}
