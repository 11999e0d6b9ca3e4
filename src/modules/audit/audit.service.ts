import type { AuditAction } from "../../shared/audit/audit-actions";
import { auditActor } from "../../shared/audit/audit-actor";
import type { EntityManager } from "typeorm";
import type { Principal } from "../../shared/auth/principal";
import type { ErrorCode } from "../../shared/errors";
import type { RequestContext } from "../../context";
import { em } from "../../shared/db/database";
import type { AuditDetails, ReadAuditDraft } from "../../shared/audit/audit-draft";
import { insertEntries } from "./audit-log.store";
import type { AuditOutcome } from "./audit-log.types";

export interface AuditEntry {
  tenantId: string | null;
  occurredAt: Date;
  actor: Principal;
  action: AuditAction;
  targetType?: string | null;
  targetId?: string | null;
  purpose?: string | null;
  outcome: `${AuditOutcome}`;
  errorCode?: ErrorCode | null;
  details?: AuditDetails | null;
  requestId?: string | null;
}

/** An entry's values, in the order of the store's columns (insertEntries). */
function rowOf(entry: AuditEntry): unknown[] {
  return [
    entry.tenantId,
    entry.occurredAt,
    auditActor(entry.actor),
    entry.actor.role,
    entry.action,
    entry.targetType ?? null,
    entry.targetId ?? null,
    entry.purpose ?? null,
    entry.outcome,
    entry.outcome === "DENIED" ? (entry.errorCode ?? null) : null,
    entry.details ? JSON.stringify(entry.details) : null,
    entry.requestId ?? null,
  ];
}

/**
 * Appends audit entries (DOMAIN rule 26). The table's trigger links each entry into its
 * tenant's hash chain; the writer only inserts, in the caller's transaction or, outside one, as
 * one statement committed on its own.
 */
export class AuditService {
  async append(manager: EntityManager, entry: AuditEntry): Promise<void> {
    await this.insert(manager, [entry]);
  }

  /**
   * Audits reads (DOMAIN rule 26: every value read, allowed or refused). All of a read's entries
   * are one INSERT, committed when it returns and before any value leaves: a read that cannot be
   * audited fails, and no entry is written for values that never left.
   */
  async appendReads(ctx: RequestContext, drafts: readonly ReadAuditDraft[]): Promise<void> {
    const actor = ctx.principal;
    if (!actor) throw new Error("reads are audited for authenticated callers only");
    if (drafts.length === 0) return;
    const occurredAt = ctx.clock.now();
    await this.insert(
      em(ctx),
      drafts.map((draft) => {
        const code = draft.errorCode ?? null;
        return {
          tenantId: draft.tenantId,
          occurredAt,
          actor,
          action: draft.action,
          targetType: draft.targetType,
          targetId: draft.targetId ?? null,
          purpose: draft.purpose,
          outcome: code ? "DENIED" : "ALLOWED",
          errorCode: code,
          details: draft.details ?? null,
          requestId: ctx.requestId,
        };
      }),
    );
  }

  private insert(manager: EntityManager, entries: readonly AuditEntry[]): Promise<void> {
    return insertEntries(manager, entries.map(rowOf));
  }
}
