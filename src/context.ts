import type { DataSource, EntityManager } from "typeorm";
import type { AuditDraft } from "./modules/audit/audit-draft";
import type { Principal } from "./shared/auth/principal";
import type { Clock } from "./shared/clock";
import type { DbContext } from "./shared/db/database";
import { LoaderCache } from "./shared/loaders";
import type { Logger } from "./shared/logging";

/**
 * Everything a service needs about the request, passed first to every service method:
 * who calls, the service clock, the database and open transaction, per-request loaders.
 * The tenant scope travels with the principal, so it reaches every query with the transaction.
 */
export interface RequestContext extends DbContext {
  requestId: string;
  principal: Principal | null;
  clock: Clock;
  loaders: LoaderCache;
  log: Logger;
  /** What the current mutation touched, for its audit entry. */
  audit: AuditDraft;
}

export interface ContextDeps {
  db: DataSource;
  clock: Clock;
  log: Logger;
}

export function createRequestContext(deps: ContextDeps, principal: Principal | null, requestId: string): RequestContext {
  return {
    requestId,
    principal,
    clock: deps.clock,
    db: deps.db,
    tx: null as EntityManager | null,
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
