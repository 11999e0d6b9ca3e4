import { randomUUID } from "node:crypto";
import { keystoreOf } from "../keys/keystore-of";
import type { Identity, SealedIdentities } from "./sealed-identity";
import { fromRegions, principalOf, type RequestContext } from "../../context";
import { dataScope } from "../../shared/auth/scope";
import { em, pgErrorCode, PG_UNIQUE_VIOLATION } from "../../shared/db/database";
import { NotFoundError } from "../../shared/errors";
import { isUuid } from "../../shared/ids";
import { byKeyLoader } from "../../shared/loaders";
import { parentPage, type Connection, type PageArgs } from "../../shared/pagination";
import { auditTarget } from "../../shared/audit/audit-draft";
import { activeDeletion, type DeletionPlan } from "../tenant/deletion-plan";
import { requireActiveSubscription } from "../tenant/tenant.policy";
import type { TenantService } from "../tenant/tenant.service";
import { DataSubjectEntity } from "./data-subject.entity";
import { DataSubjectStatus } from "./data-subject.status";
import {
  insertSubject,
  markSubjectDeleted,
  subjectPageQuery,
  subjectsByIds,
  visibleSubject,
  visibleSubjects,
  plaintextExternalIdTaken,
  subjectsHeldForWrite,
} from "./data-subject.store";
import { toDataSubject, type DataSubject, type RegisterDataSubjectInput } from "./data-subject.types";
import type { SubjectRecords } from "./subject-records";
import { DataSubjectErrors } from "./data-subject.errors";

/** Subjects by id, for records already in the caller's scope (a record's subject is in its tenant). */
export function dataSubjectLoader(ctx: RequestContext) {
  return byKeyLoader(
    (ids) => subjectsByIds(em(ctx), ids),
    (s) => s.id,
    toDataSubject,
  );
}

export class DataSubjectService {
  constructor(
    private readonly tenants: TenantService,
    private readonly records: SubjectRecords,
    private readonly identities: SealedIdentities,
  ) {}

  /** Who the subject is (its external id and display name), opened from their seal. */
  identity(ctx: RequestContext, subject: DataSubject): Promise<Identity> {
    return this.identities.open(ctx, subject.stored);
  }

  /** The subject if the caller may reach it: a data subject only itself; partners none. */
  async findVisible(ctx: RequestContext, id: string, options: { lock?: boolean } = {}): Promise<DataSubjectEntity | null> {
    if (!isUuid(id)) return null;
    return visibleSubject(em(ctx), dataScope(principalOf(ctx)), id.toLowerCase(), options.lock ?? false);
  }

  /**
   * The tenant's subject if it is still there (deleted or not), held until the transaction ends:
   * what is sealed under its key meanwhile goes with its purge, which waits for the write. Null
   * once purged; `sealed` when its identity is sealed (so it has a key, unless it was purged since).
   */
  async holdIfPresent(ctx: RequestContext, tenantId: string, id: string): Promise<{ sealed: boolean } | null> {
    const [held] = await subjectsHeldForWrite(em(ctx), tenantId, [id]);
    return held ? { sealed: held.sealed } : null;
  }

  async get(ctx: RequestContext, id: string): Promise<DataSubject | null> {
    const subject = await this.findVisible(ctx, id);
    return subject && toDataSubject(subject);
  }

  /** The subjects among `ids` (lower-case uuids) the caller reaches, as `dataSubject(id:)` does. */
  async reachable(ctx: RequestContext, ids: readonly string[]): Promise<DataSubject[]> {
    const scope = dataScope(principalOf(ctx));
    if (scope.kind === "none") return [];
    return (await fromRegions(ctx, (on) => visibleSubjects(em(on), scope, ids))).map(toDataSubject);
  }

  byId(ctx: RequestContext, id: string): Promise<DataSubject | null> {
    return ctx.loaders.get(ctx, dataSubjectLoader).load(id);
  }

  /** A tenant's subjects, oldest first; the tenant is already in the caller's scope. */
  list(ctx: RequestContext, tenantId: string, args: PageArgs, status: DataSubjectStatus | null | undefined): Promise<Connection<DataSubject>> {
    return parentPage(ctx, {
      key: JSON.stringify(["subjects", args.first, args.after, status]),
      parent: tenantId,
      query: subjectPageQuery(em(ctx), status),
      manager: em(ctx),
      parentColumn: "s.tenant_id",
      args,
      map: toDataSubject,
    });
  }

  async register(ctx: RequestContext, input: RegisterDataSubjectInput): Promise<DataSubject> {
    const tenant = await this.tenants.findVisible(ctx, input.tenantId, { lock: "share" });
    if (!tenant) throw new NotFoundError("tenant");
    auditTarget(ctx, { tenantId: tenant.id });
    requireActiveSubscription(tenant);
    const now = ctx.clock.now();
    // A subject registered before sealing is unique by its plaintext (until the sealing job has run over it).
    if (await plaintextExternalIdTaken(em(ctx), tenant.id, input.externalId)) throw DataSubjectErrors.externalIdTaken();
    const id = randomUUID();
    // Sealed under the subject's own key (made and committed in the key store first); unique by blind index.
    const sealed = await this.identities.seal(
      keystoreOf(ctx),
      { tenantId: tenant.id, id, externalId: input.externalId, displayName: input.displayName ?? null },
      now,
    );
    const subject = Object.assign(new DataSubjectEntity(), {
      id,
      tenantId: tenant.id,
      externalId: null,
      displayName: null,
      ...sealed,
      status: DataSubjectStatus.ACTIVE,
      deletedAt: null,
      purgeDueAt: null,
      createdAt: now,
      updatedAt: now,
    });
    try {
      await insertSubject(em(ctx), subject);
    } catch (error) {
      if (pgErrorCode(error) === PG_UNIQUE_VIOLATION) {
        throw DataSubjectErrors.externalIdTaken();
      }
      throw error;
    }
    auditTarget(ctx, { targetType: "DataSubject", targetId: subject.id });
    return toDataSubject(subject);
  }

  /**
   * DOMAIN rule 4: deleting a person deletes all of their records. Deleting twice changes
   * nothing: the due dates stay where the first deletion put them.
   */
  async delete(ctx: RequestContext, id: string): Promise<DataSubject> {
    return (await this.erase(ctx, id)).subject;
  }

  /** The deletion, with the ids of the recipient notices it opened (none when the subject was deleted already). */
  async erase(ctx: RequestContext, id: string): Promise<{ subject: DataSubject; noticeIds: string[] }> {
    const subject = await this.findVisible(ctx, id, { lock: true });
    if (!subject) throw new NotFoundError("data subject");
    auditTarget(ctx, { tenantId: subject.tenantId, targetType: "DataSubject", targetId: subject.id });
    if (subject.status === DataSubjectStatus.DELETED) {
      // Normally nothing is left to take. Records a write race left ACTIVE under the deleted
      // subject (before writes locked the subject) are taken now, due with the subject itself.
      const plan = { requestedAt: subject.deletedAt!, purgeDueAt: subject.purgeDueAt! };
      const recordsDeleted = await this.records.deleteOfSubject(ctx, subject.tenantId, subject.id, plan);
      auditTarget(ctx, { details: { alreadyDeleted: true, recordsDeleted } });
      return { subject: toDataSubject(subject), noticeIds: [] };
    }
    const tenant = await this.tenants.findVisible(ctx, subject.tenantId, { lock: "share" });
    const plan: DeletionPlan = activeDeletion(ctx.clock.now(), tenant!.deletionGraceDays);
    await markSubjectDeleted(em(ctx), subject.id, plan);
    const recordsDeleted = await this.records.deleteOfSubject(ctx, subject.tenantId, subject.id, plan);
    const noticeIds = await this.records.noticeErasure(ctx, subject.tenantId, subject.id);
    auditTarget(ctx, {
      details: { alreadyDeleted: false, recordsDeleted, recipientNotices: noticeIds.length, purgeDueAt: plan.purgeDueAt.toISOString() },
    });
    const deleted = Object.assign(subject, { status: DataSubjectStatus.DELETED, deletedAt: plan.requestedAt, purgeDueAt: plan.purgeDueAt });
    return { subject: toDataSubject(deleted), noticeIds };
  }
}
