import type { DataSource, EntityManager } from "typeorm";
import type { AuditDraft } from "./shared/audit/audit-draft";
import type { Principal } from "./shared/auth/principal";
import type { Clock } from "./shared/clock";
import type { DbContext } from "./shared/db/database";
import { dataScope } from "./shared/auth/scope";
import { ALL_TENANTS, RequestSession, type RowScope } from "./shared/db/session";
import { LoaderCache } from "./shared/loaders";
import type { Logger } from "./shared/logging";

/**
 * Everything a service needs about the request, passed first to every service method:
 * who calls, the service clock, the database and open transaction, per-request loaders.
 * The tenant scope travels with the principal, so it reaches every query with the transaction.
 */
export interface RequestContext extends DbContext {
  requestId: string;
  maintenance: DataSource;
  /** The request's connection and transaction, scoped for row-level security; closed when the response is ready. */
  session: RequestSession;
  principal: Principal | null;
  clock: Clock;
  loaders: LoaderCache;
  log: Logger;
  /** What the current mutation touched, for its audit entry. */
  audit: AuditDraft;
}

export interface ContextDeps {
  /** The request pool (custodian_app). */
  db: DataSource;
  /** The maintenance pool (custodian_maintenance), for work an operator starts on demand (a retention run). */
  maintenance: DataSource;
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

export async function createRequestContext(deps: ContextDeps, principal: Principal | null, requestId: string): Promise<RequestContext> {
  const session = await RequestSession.open(deps.db, rowScopeOf(principal), holderOf(principal));
  return {
    requestId,
    session,
    principal,
    clock: deps.clock,
    db: deps.db,
    maintenance: deps.maintenance,
    tx: session.manager as EntityManager | null,
    loaders: new LoaderCache(),
    log: deps.log.child({ requestId }),
    audit: {},
  };
}

/** The caller, for resolvers behind the root-field guard (which has refused anonymous calls). */
export function principalOf(ctx: RequestContext): Principal {
  if (!ctx.principal) throw new Error("principalOf called on an anonymous request: the field declares no roles");
  return ctx.principal;
}
