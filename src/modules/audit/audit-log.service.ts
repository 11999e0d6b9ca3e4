import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import { BadUserInputError } from "../../shared/errors";
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, type Connection, type PageArgs } from "../../shared/pagination";
import type { AuditDetails } from "./audit-draft";
import { ChainVerifier, type ChainLink } from "./audit-chain";
import { CHAIN_KEY_SQL, readHead } from "./audit-chain.store";
import { AuditLogEntry, type AuditLogFilter, type AuditOutcome, AuditVerification } from "./audit-log.types";
import type { Role } from "../../shared/auth/role";
import type { ProcessingPurpose } from "../purpose/processing-purpose";

const VERIFY_PAGE = 5000;

interface EntryRow {
  id: string;
  tenant_id: string | null;
  chain_seq: string;
  occurred_at: Date;
  actor: string;
  actor_role: Role;
  action: string;
  target_type: string | null;
  target_id: string | null;
  purpose: ProcessingPurpose | null;
  outcome: AuditOutcome;
  error_code: string | null;
  details: AuditDetails | null;
  hash: string;
}

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
  /** Newest first, in chain order: the cursor is the chain position, stable under new entries. */
  async page(ctx: RequestContext, chainKey: string, args: PageArgs, filter: AuditLogFilter | null | undefined): Promise<Connection<AuditLogEntry>> {
    const params: unknown[] = [chainKey];
    const where = [`${CHAIN_KEY_SQL} = $1`];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace("?", `$${params.length}`));
    };
    if (filter?.action) add("a.action = ?", filter.action);
    if (filter?.actor) add("a.actor = ?", filter.actor);
    if (filter?.outcome) add("a.outcome = ?", filter.outcome);
    if (filter?.since) add("a.occurred_at >= ?", filter.since);
    if (filter?.until) add("a.occurred_at < ?", filter.until);
    if (filter?.since && filter.until && filter.since > filter.until) {
      throw new BadUserInputError("filter.until", "`until` is before `since`: the time range is empty.");
    }
    const matching = where.join(" AND ");
    const [{ count }] = await em(ctx).query(`SELECT count(*)::int AS count FROM audit_log a WHERE ${matching}`, params);

    const first = args.first ?? DEFAULT_PAGE_SIZE;
    const pageParams = [...params];
    let pageWhere = matching;
    if (args.after) {
      const [position] = decodeCursor(args.after, 1);
      if (!/^[1-9][0-9]{0,17}$/.test(position)) throw new BadUserInputError("after", "`after` is not a cursor this API issued.");
      pageParams.push(position);
      pageWhere += ` AND a.chain_seq < $${pageParams.length}`;
    }
    pageParams.push(first + 1);
    const rows: EntryRow[] = await em(ctx).query(
      `SELECT a.id, a.tenant_id, a.chain_seq, a.occurred_at, a.actor, a.actor_role, a.action, a.target_type, a.target_id,
              a.purpose, a.outcome, a.error_code, a.details, a.hash
         FROM audit_log a WHERE ${pageWhere} ORDER BY ${CHAIN_KEY_SQL} DESC, a.chain_seq DESC LIMIT $${pageParams.length}`,
      pageParams,
    );
    const edges = rows.slice(0, first).map((row) => ({ cursor: encodeCursor([row.chain_seq]), node: toEntry(row) }));
    return {
      edges,
      nodes: edges.map((e) => e.node),
      pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
      totalCount: count,
    };
  }

  /**
   * Recomputes every retained entry's hash and link, in one snapshot, page by page so memory
   * stays flat however long the chain is. The head, held shared until the request's transaction ends: writers and the purge of this
   * chain wait, so the chain checked is exactly the one the head describes. The request's other
   * resolvers wait too (session.exclusively): a value read in the same document used to append
   * and commit its audit entry mid-way, releasing the head, and the verification then compared a
   * head and entries of two moments ("the newest entries are missing", every time).
   */
  async verify(ctx: RequestContext, chainKey: string): Promise<AuditVerification> {
    return ctx.session.exclusively(() => this.verifyHeld(ctx, chainKey));
  }

  private async verifyHeld(ctx: RequestContext, chainKey: string): Promise<AuditVerification> {
    const manager = em(ctx);
    const head = await readHead(manager, chainKey, "share");
    const verifier = new ChainVerifier(head);
    let after = head.anchorSeq;
    for (;;) {
      const rows: Array<{ id: string; chain_seq: string; prev_hash: string; hash: string; recomputed: string; purge: AuditDetails | null }> =
        await manager.query(
          `SELECT a.id, a.chain_seq, a.prev_hash, a.hash, audit_log_hash(a.prev_hash, a) AS recomputed,
                  CASE WHEN a.action = 'AUDIT_LOG_PURGED' THEN a.details END AS purge
             FROM audit_log a
            WHERE ${CHAIN_KEY_SQL} = $1 AND a.chain_seq > $2
            ORDER BY ${CHAIN_KEY_SQL}, a.chain_seq LIMIT $3`,
          [chainKey, after, VERIFY_PAGE],
        );
      const links: ChainLink[] = rows.map((r) => ({
        id: r.id,
        seq: Number(r.chain_seq),
        prevHash: r.prev_hash,
        hash: r.hash,
        recomputedHash: r.recomputed,
        purgeAnchor: r.purge ? { seq: Number(r.purge.anchorSeq), hash: String(r.purge.anchorHash) } : null,
      }));
      if (!verifier.feed(links) || rows.length < VERIFY_PAGE) break;
      after = links[links.length - 1].seq;
    }
    const problem = verifier.finish();
    return Object.assign(new AuditVerification(), {
      valid: !problem,
      entriesChecked: verifier.checked,
      firstInvalidEntryId: problem?.entryId ?? null,
      problem: problem?.reason ?? null,
    });
  }
}
