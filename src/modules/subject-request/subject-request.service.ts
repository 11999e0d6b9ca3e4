import { randomUUID } from "node:crypto";
import { principalOf, type RequestContext } from "../../context";
import { auditTarget } from "../../shared/audit/audit-draft";
import { Role } from "../../shared/auth/role";
import { dataScope } from "../../shared/auth/scope";
import { em, pgErrorCode, PG_UNIQUE_VIOLATION } from "../../shared/db/database";
import { BadUserInputError, DomainError, ErrorCode, NotFoundError } from "../../shared/errors";
import { isUuid } from "../../shared/ids";
import { byParentLoader } from "../../shared/loaders";
import { parentPage, pageOf, type Connection, type PageArgs } from "../../shared/pagination";
import type { DataSubjectService } from "../data-subject/data-subject.service";
import { EventType } from "../events/event-type";
import { emit } from "../events/outbox";
import { keystoreOf } from "../keys/keystore-of";
import type { ReasonField, SealedReasons } from "./sealed-reasons";
import { SubjectRequestEntity } from "./subject-request.entity";
import {
  askIdentity,
  clockFrom,
  extend,
  isOverdue,
  requireAwaitingIdentity,
  requireCompletable,
  requireExportSince,
  requireReason,
  requireReceipt,
  requireRejectable,
  requireSubjectForReason,
  SubjectRequestKind,
  SubjectRequestStatus,
} from "./subject-request-policy";
import { insertRequest, requestPageQuery, requestsOfSubjects, updateRequest, visibleRequests } from "./subject-request.store";
import { REQUEST_READERS, toSubjectRequest, type OpenSubjectRequestInput, type SubjectRequest } from "./subject-request.types";

/** What completing a request needs from the features that hold the subject's records and their notices. */
export interface RequestAnswers {
  /** The ids of the subject's records, any state. */
  recordIdsOf(ctx: RequestContext, tenantId: string, subjectId: string): Promise<string[]>;
  /** The rectification notices raised for any of `recordIds` since `since`. */
  rectificationsSince(ctx: RequestContext, tenantId: string, recordIds: readonly string[], since: Date): Promise<string[]>;
}

/** No extension: the clock started anew, or stopped. */
const NO_EXTENSION = { extensionReason: null, extensionReasonSealed: null } as const;

/** Each subject's requests, one statement for every subject a request lists. */
function requestsBySubjectLoader(ctx: RequestContext) {
  return byParentLoader(
    (ids) => requestsOfSubjects(em(ctx), ids),
    (r) => r.dataSubjectId,
    toSubjectRequest,
  );
}

function mayRead(ctx: RequestContext): boolean {
  return (REQUEST_READERS as readonly Role[]).includes(principalOf(ctx).role);
}

/**
 * Data subjects' requests (DOMAIN rules 29-33), in the tenant's region: the tenant's
 * administrators answer them within the legal clock; every step is audited and raises its event
 * in the same transaction.
 */
export class SubjectRequestService {
  constructor(
    private readonly subjects: DataSubjectService,
    private readonly answers: RequestAnswers,
    private readonly reasons: SealedReasons,
  ) {}

  /** The request's extension or rejection reason, opened from its seal; null once the subject is purged. */
  reason(ctx: RequestContext, request: SubjectRequest, field: ReasonField): Promise<string | null> {
    return this.reasons.open(ctx, request.stored, field);
  }

  async get(ctx: RequestContext, id: string): Promise<SubjectRequest | null> {
    return (await this.reachable(ctx, isUuid(id) ? [id.toLowerCase()] : []))[0] ?? null;
  }

  /** The requests among `ids` (lower-case uuids) the caller reaches, as `subjectRequest(id:)` does. */
  async reachable(ctx: RequestContext, ids: readonly string[]): Promise<SubjectRequest[]> {
    if (!ids.length || !mayRead(ctx) || ctx.database === "control") return [];
    return (await visibleRequests(em(ctx), dataScope(principalOf(ctx)), ids)).map(toSubjectRequest);
  }

  /** A tenant's requests, oldest first (the tenant is in the caller's scope). */
  list(
    ctx: RequestContext,
    tenantId: string,
    args: PageArgs,
    filter: { status?: SubjectRequestStatus | null; overdue?: boolean | null },
  ): Promise<Connection<SubjectRequest>> {
    const now = ctx.clock.now();
    const query = requestPageQuery(em(ctx), dataScope(principalOf(ctx)), { ...filter, now });
    if (!query) return Promise.resolve(pageOf([], 0, 0, () => [now, ""], toSubjectRequest));
    return parentPage(ctx, {
      key: JSON.stringify(["subjectRequests", args.first, args.after, filter.status, filter.overdue]),
      parent: tenantId,
      query,
      manager: em(ctx),
      parentColumn: "r.tenant_id",
      args,
      map: toSubjectRequest,
    });
  }

  /** A subject's requests (the subject is in the caller's scope). */
  ofSubject(ctx: RequestContext, subjectId: string): Promise<SubjectRequest[]> {
    if (!mayRead(ctx)) return Promise.resolve([]);
    return ctx.loaders.get(ctx, requestsBySubjectLoader).load(subjectId);
  }

  overdue(ctx: RequestContext, request: SubjectRequest): boolean {
    return isOverdue(ctx.clock.now(), request);
  }

  /** DOMAIN rule 29: a subject for itself (received now), or an administrator for a subject of the tenant. */
  async open(ctx: RequestContext, input: OpenSubjectRequestInput): Promise<SubjectRequest> {
    const principal = principalOf(ctx);
    const now = ctx.clock.now();
    if (principal.role === Role.DATA_SUBJECT && input.receivedAt) {
      throw new BadUserInputError("receivedAt", "A data subject's own request is received when it is opened: leave receivedAt out.");
    }
    const receivedAt = input.receivedAt ? requireReceipt(input.receivedAt, now) : now;
    const subject = await this.subjects.findVisible(ctx, input.dataSubjectId);
    if (!subject) throw new NotFoundError("data subject");
    const request = Object.assign(new SubjectRequestEntity(), {
      id: randomUUID(),
      tenantId: subject.tenantId,
      dataSubjectId: subject.id,
      kind: input.kind,
      status: SubjectRequestStatus.OPEN,
      receivedAt,
      ...clockFrom(receivedAt),
      ...NO_EXTENSION,
      identityRequestedAt: null,
      exportedAt: null,
      completedAt: null,
      rejectedAt: null,
      rejectionReason: null,
      rejectionReasonSealed: null,
      recipientNoticeIds: [],
      dueSoonRaisedFor: null,
      overdueRaisedFor: null,
      createdAt: now,
      updatedAt: now,
    });
    auditTarget(ctx, { tenantId: subject.tenantId, targetType: "SubjectRequest", targetId: request.id, details: { kind: input.kind } });
    try {
      await insertRequest(em(ctx), request);
    } catch (error) {
      if (pgErrorCode(error) === PG_UNIQUE_VIOLATION) {
        throw new DomainError(ErrorCode.INVALID_STATE, `This subject has an open ${input.kind} request already: answer that one first.`);
      }
      throw error;
    }
    await this.raise(ctx, request, EventType.SUBJECT_REQUEST_OPENED);
    return toSubjectRequest(request);
  }

  /** DOMAIN rule 31: asks for proof of identity; the clock stops until it is confirmed. */
  async requestIdentity(ctx: RequestContext, id: string): Promise<SubjectRequest> {
    const request = await this.held(ctx, id);
    askIdentity(ctx.clock.now(), request);
    return this.change(ctx, request, {
      status: SubjectRequestStatus.AWAITING_IDENTITY,
      identityRequestedAt: ctx.clock.now(),
      clockStartedAt: null,
      dueAt: null,
      originalDueAt: null,
      ...NO_EXTENSION,
    });
  }

  /** The clock starts anew now: due in one month, an earlier extension dropped. */
  async confirmIdentity(ctx: RequestContext, id: string): Promise<SubjectRequest> {
    const request = await this.held(ctx, id);
    requireAwaitingIdentity(request);
    return this.change(ctx, request, { status: SubjectRequestStatus.OPEN, ...clockFrom(ctx.clock.now()), ...NO_EXTENSION });
  }

  /** DOMAIN rule 30: once, before the due date, with a reason the subject reads. */
  async extend(ctx: RequestContext, id: string, reason: string): Promise<SubjectRequest> {
    const text = requireReason(reason, "the extension");
    const request = await this.held(ctx, id);
    const due = extend(ctx.clock.now(), request);
    const sealed = await this.sealReason(ctx, request, "extensionReason", text);
    const changed = await this.change(ctx, request, { ...due, extensionReason: null, extensionReasonSealed: sealed });
    await this.raise(ctx, request, EventType.SUBJECT_REQUEST_EXTENDED, { originalDueAt: due.originalDueAt!.toISOString() });
    return changed;
  }

  /** DOMAIN rule 32: completion does the work, or is refused (INVALID_STATE) when it cannot. */
  async complete(ctx: RequestContext, id: string): Promise<SubjectRequest> {
    const request = await this.held(ctx, id);
    requireCompletable(request);
    let noticeIds: string[] = [];
    switch (request.kind) {
      case SubjectRequestKind.ACCESS:
      case SubjectRequestKind.PORTABILITY:
        requireExportSince(request, request.exportedAt, (await this.subjects.holdIfPresent(ctx, request.tenantId, request.dataSubjectId)) === null);
        break;
      case SubjectRequestKind.ERASURE:
        noticeIds = await this.erase(ctx, request);
        break;
      case SubjectRequestKind.RECTIFICATION: {
        const recordIds = await this.answers.recordIdsOf(ctx, request.tenantId, request.dataSubjectId);
        noticeIds = await this.answers.rectificationsSince(ctx, request.tenantId, recordIds, request.clockStartedAt!);
        break;
      }
    }
    const changed = await this.change(ctx, request, {
      status: SubjectRequestStatus.COMPLETED,
      completedAt: ctx.clock.now(),
      recipientNoticeIds: noticeIds,
    });
    await this.raise(ctx, request, EventType.SUBJECT_REQUEST_COMPLETED, { recipientNotices: noticeIds.length });
    return changed;
  }

  /** An erasure request deletes the subject as deleteDataSubject does, in the same transaction; one already purged has nothing left. */
  private async erase(ctx: RequestContext, request: SubjectRequestEntity): Promise<string[]> {
    try {
      return (await this.subjects.erase(ctx, request.dataSubjectId)).noticeIds;
    } catch (error) {
      if (error instanceof NotFoundError) return [];
      throw error;
    } finally {
      // The request, not the subject, is what this entry is about (the deletion is in its details).
      auditTarget(ctx, { targetType: "SubjectRequest", targetId: request.id });
    }
  }

  /** Art. 12(4): a rejection, with the reason the subject reads. */
  async reject(ctx: RequestContext, id: string, reason: string): Promise<SubjectRequest> {
    const text = requireReason(reason, "the rejection");
    const request = await this.held(ctx, id);
    requireRejectable(request);
    const sealed = await this.sealReason(ctx, request, "rejectionReason", text);
    const changed = await this.change(ctx, request, {
      status: SubjectRequestStatus.REJECTED,
      rejectedAt: ctx.clock.now(),
      rejectionReason: null,
      rejectionReasonSealed: sealed,
    });
    await this.raise(ctx, request, EventType.SUBJECT_REQUEST_REJECTED);
    return changed;
  }

  /**
   * `text` sealed under the request's subject's key, the subject held until the mutation commits
   * (its purge waits, then destroys the reason with the key).
   */
  private async sealReason(ctx: RequestContext, request: SubjectRequestEntity, field: ReasonField, text: string): Promise<Buffer> {
    const subject = await this.subjects.holdIfPresent(ctx, request.tenantId, request.dataSubjectId);
    requireSubjectForReason(subject === null);
    const reason = { tenantId: request.tenantId, dataSubjectId: request.dataSubjectId, requestId: request.id, field, text };
    const keyed = new Set(subject!.sealed ? [request.dataSubjectId] : []);
    return (await this.reasons.seal(keystoreOf(ctx), [reason], ctx.clock.now(), keyed))[0];
  }

  /** The tenant's request, locked until the mutation ends; another tenant's reads as not found. */
  private async held(ctx: RequestContext, id: string): Promise<SubjectRequestEntity> {
    const [request] = isUuid(id) ? await visibleRequests(em(ctx), dataScope(principalOf(ctx)), [id.toLowerCase()], true) : [];
    if (!request) throw new NotFoundError("subject request");
    auditTarget(ctx, { tenantId: request.tenantId, targetType: "SubjectRequest", targetId: request.id });
    return request;
  }

  private async change(ctx: RequestContext, request: SubjectRequestEntity, change: Partial<SubjectRequestEntity>): Promise<SubjectRequest> {
    const now = ctx.clock.now();
    await updateRequest(em(ctx), request.id, { ...change, updatedAt: now });
    Object.assign(request, change, { updatedAt: now });
    auditTarget(ctx, { details: { kind: request.kind, status: request.status, dueAt: request.dueAt?.toISOString() ?? null } });
    return toSubjectRequest(request);
  }

  private async raise(ctx: RequestContext, request: SubjectRequestEntity, type: EventType, extra: Record<string, string | number> = {}): Promise<void> {
    await emit(ctx, request.tenantId, type, requestEventData(request, extra));
  }
}

/** A request's event payload: ids, kind, state and due date, nothing the subject or an administrator typed. */
export function requestEventData(
  r: Pick<SubjectRequestEntity, "id" | "dataSubjectId" | "kind" | "status" | "dueAt">,
  extra: Record<string, string | number> = {},
) {
  return { requestId: r.id, dataSubjectId: r.dataSubjectId, kind: r.kind, status: r.status, dueAt: r.dueAt?.toISOString() ?? null, ...extra };
}
