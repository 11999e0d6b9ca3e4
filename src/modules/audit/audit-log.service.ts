import { auditVerifications } from "../../shared/metrics";
import { fromRegions, onControl, onTenant, principalOf, type RequestContext } from "../../context";
import { Role } from "../../shared/auth/role";
import { OPERATOR_CHAIN } from "./audit-chain";
import { em } from "../../shared/db/database";
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, type Connection, type PageArgs } from "../../shared/pagination";
import { DataLoader } from "../../shared/loaders";
import { checkpointsOfChains, readHead, type StoredCheckpoint } from "./audit-chain.store";
import { entriesByIds, entriesOfChains, entryCountsOfChains, type EntryRow } from "./audit-log.store";
import { AUDIT_READERS, AuditCheckpoint, AuditLogEntry, type AuditLogFilter, AuditVerification } from "./audit-log.types";
import { checkpointMessage, type AuditSigner } from "./audit-signer";
import { verifyChain } from "./audit-verification";
import { AuditErrors } from "./audit.errors";

function toEntry(row: EntryRow): AuditLogEntry {
  return Object.assign(new AuditLogEntry(), {
    id: row.id,
    tenantId: row.tenant_id,
    occurredAt: row.occurred_at,
    actor: row.actor,
    actorRole: row.actor_role,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    purpose: row.purpose,
    outcome: row.outcome,
    errorCode: row.error_code,
    details: row.details,
    hash: row.hash,
    chainSeq: Number(row.chain_seq),
  });
}

/**
 * Reads and verifies audit chains (DOMAIN rule 27). Callers have checked that the principal may
 * see the chain's tenant; a chain key is a tenant id or OPERATOR_CHAIN.
 */
export class AuditLogService {
  constructor(private readonly signer: AuditSigner) {}

  /**
   * The entries among `ids` (lower-case uuids) the caller reaches: an operator every chain's
   * (`operatorAuditLog`, any tenant's `auditLog`), a tenant's administrator or auditor its own
   * tenant's (`auditLog`), nobody else any.
   */
  async reachable(request: RequestContext, ids: readonly string[]): Promise<AuditLogEntry[]> {
    const principal = principalOf(request);
    if (!AUDIT_READERS.includes(principal.role)) return [];
    if (principal.role !== Role.OPERATOR) {
      return principal.tenantId ? (await fromRegions(request, (on) => entriesByIds(em(on), ids, principal.tenantId))).map(toEntry) : [];
    }
    const [control, regions] = await Promise.all([
      onControl(request).then((on) => entriesByIds(em(on), ids, null)),
      fromRegions(request, (on) => entriesByIds(em(on), ids, null)),
    ]);
    return [...control, ...regions].map(toEntry);
  }

  /**
   * Newest first, in chain order: the cursor is the chain position, stable under new entries.
   * Every chain of the request asking for the same page is read at once (one statement for the
   * pages, one for their counts when asked).
   */
  async page(request: RequestContext, chainKey: string, args: PageArgs, filter: AuditLogFilter | null | undefined): Promise<Connection<AuditLogEntry>> {
    if (filter?.since && filter.until && filter.since > filter.until) {
      throw AuditErrors.emptyTimeRange();
    }
    let before: string | null = null;
    if (args.after) {
      [before] = decodeCursor(args.after, 1);
      if (!/^[1-9][0-9]{0,17}$/.test(before)) throw AuditErrors.foreignCursor();
    }
    const ctx = await chainContext(request, chainKey);
    const key = JSON.stringify(["audit", args.first, before, filter]);
    const loader = ctx.loaders.keyed(
      `page:${key}`,
      () => new DataLoader<string, Connection<AuditLogEntry>>((chains) => this.pages(ctx, key, [...chains], args, filter, before)),
    );
    return loader.load(chainKey);
  }

  private async pages(
    ctx: RequestContext,
    key: string,
    chains: string[],
    args: PageArgs,
    filter: AuditLogFilter | null | undefined,
    before: string | null,
  ): Promise<Connection<AuditLogEntry>[]> {
    const counts = ctx.loaders.keyed(
      `count:${key}`,
      () =>
        new DataLoader<string, number>(async (keys) => {
          const n = await entryCountsOfChains(em(ctx), keys, filter);
          return keys.map((k) => n.get(k) ?? 0);
        }),
    );
    const first = args.first ?? DEFAULT_PAGE_SIZE;
    const rows = await entriesOfChains(em(ctx), chains, filter, before, first + 1);
    return chains.map((chain) => {
      const own = rows.filter((row) => row.chain === chain);
      const edges = own.slice(0, first).map((row) => ({ cursor: encodeCursor([row.chain_seq]), node: toEntry(row) }));
      const connection: Connection<AuditLogEntry> = {
        edges,
        nodes: edges.map((e) => e.node),
        pageInfo: { hasNextPage: own.length > first, endCursor: edges.at(-1)?.cursor ?? null },
        totalCount: 0,
      };
      // Counted only when the query asks for totalCount.
      let count: Promise<number> | undefined;
      Object.defineProperty(connection, "totalCount", { enumerable: true, get: () => (count ??= counts.load(chain)) });
      return connection;
    });
  }

  /**
   * Verifies the chain against its head and newest signed checkpoint (see verifyChain), from
   * that checkpoint or, `full`, from the oldest retained entry. The head is held shared until
   * the verification's transaction ends: writers and the purge of this chain wait, so the chain
   * checked is exactly the one the head describes. The request's other resolvers wait until
   * it ends (a session's transaction): a value read in the same document used to append and
   * commit its audit entry mid-way, releasing the head ("the newest entries are missing", every
   * time).
   */
  async verify(request: RequestContext, chainKey: string, full: boolean): Promise<AuditVerification> {
    const ctx = await chainContext(request, chainKey);
    return ctx.session.transaction(async (manager) => {
      const head = await readHead(manager, chainKey, true);
      const result = await verifyChain(manager, this.signer, chainKey, head, full ? "anchor" : "checkpoint");
      auditVerifications.inc({ result: result.problem ? "invalid" : "valid" });
      return Object.assign(new AuditVerification(), {
        valid: !result.problem,
        entriesChecked: result.checked,
        firstInvalidEntryId: result.problem?.entryId ?? null,
        problem: result.problem?.reason ?? null,
        checkpoint: result.checkpoint && toCheckpoint(result.checkpoint),
        full,
      });
    });
  }

  /** The chain's signed checkpoints, newest first; every chain of the request asking for as many at once. */
  async checkpoints(request: RequestContext, chainKey: string, first: number): Promise<AuditCheckpoint[]> {
    const ctx = await chainContext(request, chainKey);
    const loader = ctx.loaders.keyed(
      `checkpoints:${first}`,
      () => new DataLoader<string, StoredCheckpoint[]>((keys) => checkpointsOfChains(em(ctx), keys, first)),
    );
    return (await loader.load(chainKey)).map(toCheckpoint);
  }
}

/** Where a chain lives: a tenant's in its region, the operators' in control. */
function chainContext(ctx: RequestContext, chainKey: string): Promise<RequestContext> {
  return chainKey === OPERATOR_CHAIN ? onControl(ctx) : onTenant(ctx, chainKey);
}

function toCheckpoint(c: StoredCheckpoint): AuditCheckpoint {
  return Object.assign(new AuditCheckpoint(), {
    chainSeq: String(c.seq),
    hash: c.hash,
    signedAt: c.signedAt,
    keyId: c.keyId,
    signature: c.signature,
    message: checkpointMessage(c),
  });
}
