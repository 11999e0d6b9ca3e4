import type { DataSource, EntityManager } from "typeorm";
import type { AuditDraft } from "./shared/audit/audit-draft";
import type { Principal } from "./shared/auth/principal";
import type { Clock } from "./shared/clock";
import type { DbContext } from "./shared/db/database";
import { dataScope } from "./shared/auth/scope";
import { ALL_TENANTS, type RequestSession, type RowScope } from "./shared/db/session";
import { CONTROL, type Topology } from "./shared/db/topology";
import { UnitOfWork } from "./shared/db/unit-of-work";
import { isUuid } from "./shared/ids";
import { isDatabaseUnavailable } from "./shared/graphql/format-error";
import { LoaderCache } from "./shared/loaders";
import type { Logger } from "./shared/logging";

/**
 * Everything a service needs about the request, passed first to every service method:
 * who calls, the service clock, the database and open transaction, per-request loaders.
 * The tenant scope travels with the principal, so it reaches every query with the transaction.
 *
 * A context is on one database (`database`): a tenant role's request starts on its tenant's
 * region, every other on control. `onTenant`, `onControl` and `onEveryRegion` give the same
 * request's context on another database; stores only ever use the context they are handed.
 */
export interface RequestContext extends DbContext {
  requestId: string;
  /** CONTROL or the storage location code of the database this context is on. */
  database: string;
  /** The request's sessions over every database it touches. */
  unit: UnitOfWork;
  topology: Topology;
  maintenance: DataSource;
  /** The request's connection to `database`, scoped for row-level security; closed when the response is ready. */
  session: RequestSession;
  principal: Principal | null;
  clock: Clock;
  loaders: LoaderCache;
  log: Logger;
  /** What the current mutation touched, for its audit entry. */
  audit: AuditDraft;
  /**
   * Locations whose region database did not answer a fan-out of this request: the answer holds
   * the other regions' rows, and one error per location here (see the server's partial answers).
   */
  regionsMissing: Set<string>;
  /**
   * Records a page left out because their value failed authentication (DATA_INTEGRITY_FAILURE):
   * the answer keeps the rest of the page and carries one error per record left out.
   */
  recordsLeftOut: string[];
}

export interface ContextDeps {
  topology: Topology;
  clock: Clock;
  log: Logger;
}

/** The row scope a caller's requests run under: what the resolvers' own filters allow, as a second wall. */
export function rowScopeOf(principal: Principal | null): RowScope {
  if (!principal) return { all: false, tenantId: null };
  const scope = dataScope(principal);
  if (scope.kind === "all") return ALL_TENANTS;
  return { all: false, tenantId: scope.kind === "tenant" ? scope.tenantId : null };
}

/** Who a request's connection counts against: the principal (token subject, role and tenant), or all anonymous callers together. */
function holderOf(principal: Principal | null): string {
  return principal ? `${principal.role}|${principal.tenantId ?? ""}|${principal.subject}` : "anonymous";
}

/** Where a caller's request starts: its tenant's region for a tenant role, control for everyone else. */
async function homeOf(topology: Topology, principal: Principal | null): Promise<string> {
  const tenantId = principal?.tenantId;
  if (!tenantId || !isUuid(tenantId)) return CONTROL;
  return (await topology.locate(tenantId.toLowerCase())) ?? CONTROL;
}

export async function createRequestContext(deps: ContextDeps, principal: Principal | null, requestId: string): Promise<RequestContext> {
  const database = await homeOf(deps.topology, principal);
  const unit = new UnitOfWork(deps.topology, rowScopeOf(principal), holderOf(principal));
  let session: RequestSession;
  try {
    session = await unit.session(database);
  } catch (error) {
    await unit.close();
    throw error;
  }
  const handle = deps.topology.database(database)!;
  const ctx = {
    requestId,
    database,
    unit,
    topology: deps.topology,
    session,
    principal,
    clock: deps.clock,
    db: handle.app,
    maintenance: handle.maintenance,
    tx: session.manager as EntityManager | null,
    loaders: new LoaderCache(),
    log: deps.log.child({ requestId }),
    audit: {},
    regionsMissing: new Set(),
    recordsLeftOut: [],
  } as unknown as RequestContext;
  return ctx;
}

/**
 * A request's contexts on other databases, by the context they were made from: the one the
 * resolvers get (Apollo hands each operation a shallow copy of the request's, which the guard
 * gives the mutation's audit draft). A derived context reads the rest through its prototype.
 */
const derived = new WeakMap<RequestContext, Map<string, RequestContext>>();
const baseOf = new WeakMap<RequestContext, RequestContext>();

/**
 * The request's context on database `name`: the same caller, clock and audit draft, that
 * database's session (opened on first use, and part of a running mutation's transaction) and
 * loaders of its own.
 */
export async function onDatabase(ctx: RequestContext, name: string): Promise<RequestContext> {
  const base = baseOf.get(ctx) ?? ctx;
  const session = await base.unit.session(name);
  if (name === base.database) return base;
  let byName = derived.get(base);
  if (!byName) derived.set(base, (byName = new Map()));
  let on = byName.get(name);
  if (!on) {
    const handle = base.topology.database(name)!;
    on = Object.create(base, {
      database: { value: name },
      session: { value: session },
      db: { value: handle.app },
      tx: { value: session.manager },
      maintenance: { value: handle.maintenance },
      loaders: { value: new LoaderCache() },
    }) as RequestContext;
    byName.set(name, on);
    baseOf.set(on, base);
  }
  return on;
}

/** The request's context on the region database of `tenantId`; for no such tenant, the context given. */
export async function onTenant(ctx: RequestContext, tenantId: string): Promise<RequestContext> {
  if (!isUuid(tenantId)) return ctx;
  const code = await ctx.topology.locate(tenantId.toLowerCase());
  return code ? onDatabase(ctx, code) : ctx;
}

/** The request's context on the region database of storage location `code`. */
export function onLocation(ctx: RequestContext, code: string): Promise<RequestContext> {
  return onDatabase(ctx, code);
}

/** The request's context on control (reference data, the tenant directory, incidents). */
export function onControl(ctx: RequestContext): Promise<RequestContext> {
  return onDatabase(ctx, CONTROL);
}

/** What one region answered for a fan-out: its context, or why it could not be reached. */
export type RegionContext = { location: string; ctx: RequestContext; error?: undefined } | { location: string; ctx?: undefined; error: unknown };

/** The request's context on every region database (or those of `locations`), opened in parallel; a region that cannot be reached says why. */
export function onEveryRegion(ctx: RequestContext, locations: readonly string[] = ctx.topology.locations): Promise<RegionContext[]> {
  return Promise.all(
    locations.map((location) =>
      onDatabase(ctx, location).then(
        (on): RegionContext => ({ location, ctx: on }),
        (error: unknown): RegionContext => ({ location, error }),
      ),
    ),
  );
}

/** The request's context on every region, for a change all of them must take: one that cannot be reached refuses it. */
export async function everyRegion(ctx: RequestContext): Promise<RequestContext[]> {
  const regions = await onEveryRegion(ctx);
  const down = regions.find((r) => !r.ctx);
  if (down) throw down.error;
  return regions.map((r) => r.ctx!);
}

/**
 * Runs `work` on every region side by side and returns what the regions that answered gave, in
 * the topology's order. A region that did not answer is recorded on the request
 * (`regionsMissing`), so the answer carries an error naming its location: never silently fewer rows.
 */
export async function acrossRegions<T>(
  ctx: RequestContext,
  work: (on: RequestContext, location: string) => Promise<T>,
  locations?: readonly string[],
): Promise<T[]> {
  const outcomes = await Promise.all(
    (await onEveryRegion(ctx, locations)).map(async (region) => {
      try {
        if (!region.ctx) throw region.error;
        return { value: await work(region.ctx, region.location) };
      } catch (error) {
        if (!isDatabaseUnavailable(error)) throw error;
        ctx.regionsMissing.add(region.location);
        ctx.log.warn({ location: region.location }, "a region database did not answer: the answer leaves its tenants out and says so");
        return null;
      }
    }),
  );
  return outcomes.flatMap((o) => (o ? [o.value] : []));
}

/**
 * An object by id, for a caller whose request is not on a region (an operator's): each region
 * is asked, side by side, and the first that has it answers. On a region already, only there.
 */
export async function findInRegions<T>(ctx: RequestContext, find: (on: RequestContext) => Promise<T | null>): Promise<T | null> {
  if (ctx.database !== CONTROL) return find(ctx);
  const found = await acrossRegions(ctx, find);
  return found.find((value) => value !== null) ?? null;
}

/**
 * Rows from the regions a caller's request reaches: a tenant role's own region (its request is
 * on it), or, for a request on control (an operator's), every region side by side; a region
 * that does not answer is named in the answer (acrossRegions).
 */
export async function fromRegions<T>(ctx: RequestContext, find: (on: RequestContext) => Promise<T[]>): Promise<T[]> {
  if (ctx.database !== CONTROL) return find(ctx);
  return (await acrossRegions(ctx, find)).flat();
}

/** The caller, for resolvers behind the root-field guard (which has refused anonymous calls). */
export function principalOf(ctx: RequestContext): Principal {
  if (!ctx.principal) throw new Error("principalOf called on an anonymous request: the field declares no roles");
  return ctx.principal;
}
