import { randomUUID } from "node:crypto";
import { fromRegions, principalOf, type RequestContext } from "../../context";
import { dataScope } from "../../shared/auth/scope";
import { em } from "../../shared/db/database";
import { DomainError, NotFoundError } from "../../shared/errors";
import { loggableError } from "../../shared/logging";
import { isUuid } from "../../shared/ids";
import { parentPage, type Connection, type PageArgs } from "../../shared/pagination";
import { auditTarget } from "../../shared/audit/audit-draft";
import { DataSubjectStatus } from "../data-subject/data-subject.status";
import { subjectsHeldForWrite } from "../data-subject/data-subject.store";
import type { TenantEntity } from "../tenant/tenant.entity";
import { requireActiveSubscription } from "../tenant/tenant.policy";
import type { TenantService } from "../tenant/tenant.service";
import { atBatchIndex, checkBatchSize, checkIdempotencyKey, checkRecordDraft, checkResidency, checkValue, type RecordDraft } from "./collection-policy";
import { activeDeletion } from "../tenant/deletion-plan";
import { type IdempotencyKeys, requestHash } from "./idempotency";
import { RecordStatus } from "./personal-data.enums";
import { type PersonalDataRecordEntity } from "./personal-data-record.entity";
import {
  toRecord,
  type CorrectPersonalDataInput,
  type PersonalDataRecord,
  type PersonalDataRecordFilter,
  type RecordBatchResult,
  type RecordPersonalDataBatchInput,
  type RecordPersonalDataInput,
} from "./personal-data.types";
import type { RecordDeletion } from "./record-deletion";
import type { InboundSources, RecordRecipients } from "./record-sharing";
import { valueChanges } from "./value-changes";
import { readsValues, recordColumnsFor, type RecordSelection } from "./record-columns";
import { readAhead, screenedPage } from "./value-reader";
import { recordPageConditions } from "./record-filter";
import { insertRecords, recordMetadata, recordPageQuery, replaceValue, storedValue, visibleRecord, visibleRecords } from "./personal-data.store";
import { storedValueOf, type SealedValues } from "./sealed-values";
import { keystoreOf } from "../keys/keystore-of";
import { RecordErrors } from "./personal-data.errors";
import { DataSubjectErrors } from "../data-subject/data-subject.errors";

export class PersonalDataService {
  constructor(
    private readonly tenants: TenantService,
    private readonly deletion: RecordDeletion,
    private readonly keys: IdempotencyKeys,
    private readonly inbound: InboundSources,
    private readonly notices: RecordRecipients,
    private readonly values: SealedValues,
  ) {}

  /** The record if the caller may reach it: operators all, tenant roles their tenant's, a data subject its own. */
  async findVisible(ctx: RequestContext, id: string, options: { lock?: boolean } = {}): Promise<PersonalDataRecordEntity | null> {
    if (!isUuid(id)) return null;
    return visibleRecord(em(ctx), dataScope(principalOf(ctx)), id.toLowerCase(), options.lock ?? false);
  }

  async get(ctx: RequestContext, id: string): Promise<PersonalDataRecord | null> {
    const record = await this.findVisible(ctx, id);
    return record && toRecord(record);
  }

  /** The records among `ids` (lower-case uuids) the caller reaches, as `personalDataRecord(id:)` does. */
  async reachable(ctx: RequestContext, ids: readonly string[]): Promise<PersonalDataRecord[]> {
    const scope = dataScope(principalOf(ctx));
    if (scope.kind === "none") return [];
    return (await fromRegions(ctx, (on) => visibleRecords(em(on), scope, ids))).map(toRecord);
  }

  /** A page of records, oldest first, within a tenant (or a subject) already in the caller's scope. */
  list(
    ctx: RequestContext,
    where: { tenantId?: string; dataSubjectId?: string },
    args: PageArgs,
    filter?: PersonalDataRecordFilter | null,
    selection?: RecordSelection | null,
  ): Promise<Connection<PersonalDataRecord>> {
    const scope = dataScope(principalOf(ctx));
    if (scope.kind === "none") throw new Error("list called for a caller without a data scope");
    return this.page(ctx, scope, where, args, filter, selection);
  }

  private async page(
    ctx: RequestContext,
    scope: Exclude<ReturnType<typeof dataScope>, { kind: "none" }>,
    where: { tenantId?: string; dataSubjectId?: string },
    args: PageArgs,
    filter?: PersonalDataRecordFilter | null,
    selection?: RecordSelection | null,
  ): Promise<Connection<PersonalDataRecord>> {
    // Only the columns the query's selection needs; with the values' rows when it reads values,
    // so that reading them takes no statement of its own (value-reader.ts).
    const withValues = !!selection && readsValues(selection);
    const selected = selection ? recordColumnsFor(recordMetadata(em(ctx)), selection, false).map((c) => c.propertyName) : [];
    const query = recordPageQuery(em(ctx), selected);
    // The parent is the subject when one is named (its records are its tenant's), else the tenant;
    // the subjects of one tenant are read together.
    const parent = where.dataSubjectId ? { column: "r.data_subject_id", key: where.dataSubjectId } : { column: "r.tenant_id", key: where.tenantId };
    if (!parent.key) throw new Error("list names no tenant and no subject");
    if (where.dataSubjectId && where.tenantId) query.andWhere("r.tenant_id = :tenantId", { tenantId: where.tenantId });
    const params: Record<string, unknown> = {};
    const conditions = recordPageConditions(scope, filter, (value) => {
      const name = `filter${Object.keys(params).length}`;
      params[name] = value;
      return `:${name}`;
    });
    if (conditions.length) query.andWhere(conditions.join(" AND "), params);
    const page = await parentPage(ctx, {
      key: JSON.stringify(["records", parent.column, where.dataSubjectId ? where.tenantId : null, args.first, args.after, filter, selected]),
      parent: parent.key,
      query,
      manager: em(ctx),
      parentColumn: parent.column,
      args,
      map: (entity) => {
        const record = toRecord(entity);
        if (withValues) readAhead(record, entity);
        return record;
      },
    });
    return withValues ? screenedPage(ctx, this.values, page) : page;
  }

  /** The tenant a write names, held shared until commit so the subscription cannot end mid-write. */
  private async writableTenant(ctx: RequestContext, tenantId: string): Promise<TenantEntity> {
    const tenant = await this.tenants.findVisible(ctx, tenantId, { lock: "share" });
    if (!tenant) throw new NotFoundError("tenant");
    auditTarget(ctx, { tenantId: tenant.id });
    return tenant;
  }

  /**
   * The subjects of new records must be ACTIVE subjects of the tenant; `indexOf` names a batch
   * item. They stay ACTIVE until this write commits: FOR KEY SHARE conflicts with the deletion's
   * FOR UPDATE, so a deletion either waits for the write and then takes its records, or goes
   * first and the write sees the subject DELETED. A plain read let a record
   * written during a deletion stay ACTIVE under a DELETED subject, never purged. KEY SHARE is the
   * lock the records' foreign-key checks take on the subjects anyway, so it costs them nothing
   * more. Locked in id order, so two batches naming the same subjects cannot deadlock.
   */
  private async requireSubjects(ctx: RequestContext, tenantId: string, subjectIds: string[], indexOf?: (id: string) => number): Promise<Set<string>> {
    const rows = await subjectsHeldForWrite(em(ctx), tenantId, subjectIds);
    const status = new Map(rows.map((r) => [r.id, r.status]));
    for (const id of subjectIds) {
      const s = status.get(id);
      if (s === DataSubjectStatus.ACTIVE) continue;
      const error = s === undefined ? DataSubjectErrors.notInTenant() : DataSubjectErrors.deleted();
      throw indexOf ? atBatchIndex(error, indexOf(id)) : error;
    }
    // The subjects whose identity is sealed: their keys must be there (see KeyRing.createRecordKeys).
    return new Set(rows.filter((r) => r.sealed).map((r) => r.id));
  }

  private async insert(ctx: RequestContext, tenant: TenantEntity, ids: string[], drafts: RecordDraft[], keyedSubjects: ReadonlySet<string>): Promise<Date> {
    const now = ctx.clock.now();
    await this.values.sealWhile(
      keystoreOf(ctx),
      drafts.map((d, i) => ({ tenantId: tenant.id, subjectId: d.dataSubjectId, recordId: ids[i], version: 1, value: d.value })),
      now,
      (sealed) =>
        insertRecords(
          em(ctx),
          tenant.id,
          tenant.storageLocationCode,
          now,
          drafts.map((d, i) => ({
            id: ids[i],
            dataSubjectId: d.dataSubjectId,
            category: d.category,
            purposes: d.purposes,
            sourceThirdPartyId: d.sourceThirdPartyId ?? null,
            sealed: sealed[i],
          })),
        ),
      { keyedSubjects },
    );
    return now;
  }

  /** DOMAIN rules 2, 3, 11: one record, in the tenant's location, for declared purposes. */
  async record(ctx: RequestContext, input: RecordPersonalDataInput): Promise<PersonalDataRecord> {
    const tenant = await this.writableTenant(ctx, input.tenantId);
    const key = checkIdempotencyKey(input.idempotencyKey, "idempotencyKey");
    checkResidency(input.storageLocationCode, tenant.storageLocationCode);
    const draft = checkRecordDraft(input, "");
    const id = randomUUID();
    if (key) {
      const hash = requestHash("recordPersonalData", { ...draft, storageLocationCode: input.storageLocationCode ?? null });
      const replay = await this.keys.claim(ctx, tenant.id, key, "recordPersonalData", hash, [id]);
      if (replay) return this.replayed(ctx, replay[0]);
    }
    requireActiveSubscription(tenant);
    const keyed = await this.requireSubjects(ctx, tenant.id, [draft.dataSubjectId]);
    await this.inbound.check(ctx, tenant.id, [draft], () => "sourceThirdPartyId", false);
    await this.insert(ctx, tenant, [id], [draft], keyed);
    auditTarget(ctx, {
      targetType: "PersonalDataRecord",
      targetId: id,
      details: { dataSubjectId: draft.dataSubjectId, category: draft.category, purposes: draft.purposes, sourceThirdPartyId: draft.sourceThirdPartyId ?? null },
    });
    return toRecord((await this.findVisible(ctx, id))!);
  }

  private async replayed(ctx: RequestContext, id: string): Promise<PersonalDataRecord> {
    auditTarget(ctx, { targetType: "PersonalDataRecord", targetId: id, details: { idempotentReplay: true } });
    const record = await this.findVisible(ctx, id);
    if (!record) throw new NotFoundError("record (the first request's record was purged)");
    return toRecord(record);
  }

  /**
   * DOMAIN rules 2, 3, 11 for 1..1000 records: every item is checked before anything is
   * written, the first failing item is named by its index, and all rows go in one statement.
   */
  async recordBatch(ctx: RequestContext, input: RecordPersonalDataBatchInput): Promise<RecordBatchResult> {
    const tenant = await this.writableTenant(ctx, input.tenantId);
    const key = checkIdempotencyKey(input.idempotencyKey, "idempotencyKey");
    checkBatchSize(input.records.length);
    const drafts = input.records.map((item, i) => {
      try {
        return checkRecordDraft(item, `records.${i}.`);
      } catch (error) {
        throw atBatchIndex(error, i);
      }
    });
    const ids = drafts.map(() => randomUUID());
    if (key) {
      const replay = await this.keys.claim(ctx, tenant.id, key, "recordPersonalDataBatch", requestHash("recordPersonalDataBatch", drafts), ids);
      if (replay) {
        auditTarget(ctx, { targetType: "RecordBatch", details: { idempotentReplay: true, count: replay.length } });
        return { count: replay.length, recordIds: replay };
      }
    }
    requireActiveSubscription(tenant);
    const subjectIds = drafts.map((d) => d.dataSubjectId);
    const keyed = await this.requireSubjects(ctx, tenant.id, subjectIds, (id) => subjectIds.indexOf(id));
    await this.inbound.check(ctx, tenant.id, drafts, (i) => `records.${i}.sourceThirdPartyId`, true);
    await this.insert(ctx, tenant, ids, drafts, keyed);
    auditTarget(ctx, { targetType: "RecordBatch", details: { count: ids.length, recordIds: ids } });
    return { count: ids.length, recordIds: ids };
  }

  /**
   * DOMAIN rule 13: the expected version is part of the UPDATE's WHERE, so of two concurrent
   * corrections from one version exactly one applies. The audit entry says what changed in
   * counts of keys, never the keys' values.
   */
  async correct(ctx: RequestContext, input: CorrectPersonalDataInput): Promise<PersonalDataRecord> {
    // Held until commit: the new value's key is made for the version after this one, and no
    // other correction can make one for the same version meanwhile.
    const record = await this.findVisible(ctx, input.id, { lock: true });
    if (!record) throw new NotFoundError("record");
    auditTarget(ctx, { tenantId: record.tenantId, targetType: "PersonalDataRecord", targetId: record.id });
    checkValue(input.value, "value");
    if (!Number.isInteger(input.expectedVersion) || input.expectedVersion < 1) {
      throw RecordErrors.expectedVersionInvalid();
    }
    if (record.status !== RecordStatus.ACTIVE) throw RecordErrors.pendingDeletion();
    if (record.version !== input.expectedVersion) throw RecordErrors.versionConflict(record.version);
    const now = ctx.clock.now();
    const stored = (await storedValue(em(ctx), record.id))!;
    const [oldValue] = await this.values.open(ctx, [storedValueOf(stored)]);
    // The new value under a new key; the old key is destroyed once this commits (the old value is then shredded everywhere).
    const keyVersion = input.expectedVersion + 1;
    const replaced = await this.values.sealWhile(
      keystoreOf(ctx),
      [{ tenantId: record.tenantId, subjectId: record.dataSubjectId, recordId: record.id, version: keyVersion, value: input.value }],
      now,
      ([sealed]) => replaceValue(em(ctx), record.id, input.expectedVersion, sealed, keyVersion, now),
      // A sealed value's subject had its key: a correction never makes it a new one.
      { retireOlder: true, keyedSubjects: new Set(stored.value_sealed ? [record.dataSubjectId] : []) },
    );
    if (!replaced) throw RecordErrors.versionConflict(record.version);
    ctx.unit.afterCommit(() =>
      this.values.destroyOlder(ctx, record.id, keyVersion).catch((error: unknown) => {
        // The key store keeps a note of it: the next retention run destroys them.
        ctx.log.warn({ recordId: record.id, error: loggableError(error) }, "a corrected record's old key could not be destroyed yet");
      }),
    );
    // An old value that cannot be opened counts as wholly replaced.
    const changes = valueChanges(oldValue instanceof DomainError ? {} : oldValue, input.value);
    const notices = changes.changed ? (await this.notices.raise(ctx, record.tenantId, [record.id], "RECTIFICATION")).length : 0;
    auditTarget(ctx, {
      details: {
        changedFields: changes.changed ? ["value"] : [],
        ...changes.counts,
        fromVersion: input.expectedVersion,
        toVersion: input.expectedVersion + 1,
        recipientNotices: notices,
      },
    });
    return toRecord(Object.assign(record, { version: input.expectedVersion + 1, updatedAt: now }));
  }

  /** DOMAIN rules 4 and 6: pending at once, purged after the tenant's grace; twice changes nothing. */
  async delete(ctx: RequestContext, id: string): Promise<PersonalDataRecord> {
    const record = await this.findVisible(ctx, id, { lock: true });
    if (!record) throw new NotFoundError("record");
    auditTarget(ctx, { tenantId: record.tenantId, targetType: "PersonalDataRecord", targetId: record.id });
    const tenant = await this.tenants.findVisible(ctx, record.tenantId, { lock: "share" });
    const plan = activeDeletion(ctx.clock.now(), tenant!.deletionGraceDays);
    const deleted = await this.deletion.deleteOne(ctx, record.id, plan);
    const notices = deleted ? (await this.notices.raise(ctx, record.tenantId, [record.id], "ERASURE")).length : 0;
    auditTarget(ctx, {
      details: { alreadyDeleted: !deleted, purgeDueAt: (deleted ? plan.purgeDueAt : record.purgeDueAt)?.toISOString() ?? null, recipientNotices: notices },
    });
    return toRecord((await this.findVisible(ctx, record.id))!);
  }
}
