import { randomUUID } from "node:crypto";
import { EventType } from "../events/event-type";
import { emit } from "../events/outbox";
import type { RequestContext } from "../../context";
import { fromRegions, principalOf } from "../../context";
import { Role } from "../../shared/auth/role";
import { dataScope } from "../../shared/auth/scope";
import { em } from "../../shared/db/database";
import { DomainError, ErrorCode, NotFoundError } from "../../shared/errors";
import { isUuid } from "../../shared/ids";
import { byKeyLoader, byParentLoader, DataLoader } from "../../shared/loaders";
import { parentPage, type Connection, type PageArgs } from "../../shared/pagination";
import { auditTarget } from "../../shared/audit/audit-draft";
import { declaredPurposes } from "../purpose/purpose-policy";
import { requireActiveSubscription, SubscriptionStatus } from "../tenant/tenant.policy";
import { categoriesOfSubjectRecords, recordIdsOfSubject, recordsHeldForShare } from "../personal-data/personal-data.store";
import type { TenantService } from "../tenant/tenant.service";
import type { ThirdPartyService } from "../third-party/third-party.service";
import { ThirdPartyRole } from "../third-party/third-party.types";
import { DataTransferEntity, SharingAgreementEntity } from "./sharing.entities";
import { initialStatus, shareRefusal, sharingReach, transferSeenBySubject } from "./sharing-policy";
import {
  agreementPageQuery,
  agreementsByIds,
  confirmNotice,
  insertAgreement,
  insertTransfer,
  noticeHeld,
  openNoticesOf,
  transferPageQuery,
  transfersIncluding,
  updateAgreement,
  visibleAgreement,
  visibleAgreements,
  agreementsCarrying,
  visibleTransfers,
  transfersCarrying,
  openNoticesByIds,
  noticesByIds,
  type NoticeRow,
} from "./sharing.store";

import { SharingErrors } from "./sharing.errors";
import { PartyErrors } from "../third-party/third-party.errors";
import {
  DataTransfer,
  RecipientNotice,
  SharingAgreement,
  SharingAgreementStatus,
  type CreateSharingAgreementInput,
  type NoticeKind,
  type ShareRecordsInput,
} from "./sharing.types";

export const MAX_SHARE_RECORDS = 1000;

export function toAgreement(e: SharingAgreementEntity): SharingAgreement {
  return Object.assign(new SharingAgreement(), {
    id: e.id,
    tenantId: e.tenantId,
    thirdPartyId: e.thirdPartyId,
    feature: e.feature,
    direction: e.direction,
    dataCategories: e.dataCategories,
    purposes: e.purposes,
    status: e.status,
    tenantContractReference: e.tenantContractReference,
    consent: e.consentGrantedBy
      ? {
          grantedBy: e.consentGrantedBy,
          grantedAt: e.consentGrantedAt,
          dataCategories: e.consentCategories ?? [],
          purposes: e.consentPurposes ?? [],
          revokedBy: e.revokedBy,
          revokedAt: e.revokedAt,
          revocationReason: e.revocationReason,
        }
      : null,
    revokedAt: e.revokedAt,
    createdAt: e.createdAt,
  });
}

export function toTransfer(e: DataTransferEntity): DataTransfer {
  return Object.assign(new DataTransfer(), {
    id: e.id,
    agreementId: e.agreementId,
    tenantId: e.tenantId,
    purpose: e.purpose,
    recordIds: e.recordIds,
    recordCount: e.recordIds.length,
    categories: e.categories,
    transferredAt: e.createdAt,
  });
}

/**
 * Transfers that included each record (records already in the caller's scope). A data subject
 * sees in each only its own records (transferSeenBySubject).
 */
export function transfersByRecordLoader(ctx: RequestContext) {
  return new DataLoader<string, DataTransfer[]>(async (ids) => {
    const rows = await transfersIncluding(em(ctx), ids);
    const seen = await transfersAsSeen(ctx, rows);
    return ids.map((id) => seen.filter((_, i) => rows[i].recordIds.includes(id)));
  });
}

/** Transfers as the caller sees them: a data subject only its own records in each (transferSeenBySubject). */
async function transfersAsSeen(ctx: RequestContext, rows: readonly DataTransferEntity[]): Promise<DataTransfer[]> {
  const subjectId = ctx.principal?.role === Role.DATA_SUBJECT ? ctx.principal.dataSubjectId : undefined;
  if (subjectId === undefined) return rows.map(toTransfer);
  const own = await categoriesOfSubjectRecords(em(ctx), subjectId, [...new Set(rows.flatMap((t) => t.recordIds))]);
  const categories = new Map(own.map((r) => [r.id, r.category]));
  return rows.map((t) => toTransfer(Object.assign(new DataTransferEntity(), t, transferSeenBySubject(t, categories))));
}

export function agreementLoader(ctx: RequestContext) {
  return byKeyLoader(
    (ids) => agreementsByIds(em(ctx), ids),
    (a) => a.id,
    toAgreement,
  );
}

/** Sharing agreements, consent, shares and notices (DOMAIN rules 15-18, 21). */
export class SharingService {
  constructor(
    private readonly tenants: TenantService,
    private readonly parties: ThirdPartyService,
  ) {}

  /** The agreement if in the caller's scope. Writers lock it: shares shared, consent changes exclusively. */
  async findVisible(ctx: RequestContext, id: string, lock?: "share" | "update"): Promise<SharingAgreementEntity | null> {
    if (!isUuid(id)) return null;
    return visibleAgreement(em(ctx), dataScope(principalOf(ctx)), id.toLowerCase(), lock);
  }

  async get(ctx: RequestContext, id: string): Promise<SharingAgreement | null> {
    const agreement = await this.findVisible(ctx, id);
    return agreement && toAgreement(agreement);
  }

  byId(ctx: RequestContext, id: string): Promise<SharingAgreement | null> {
    return ctx.loaders.get(ctx, agreementLoader).load(id);
  }

  list(ctx: RequestContext, tenantId: string, args: PageArgs, status: SharingAgreementStatus | null | undefined): Promise<Connection<SharingAgreement>> {
    return parentPage(ctx, {
      key: JSON.stringify(["agreements", args.first, args.after, status]),
      parent: tenantId,
      query: agreementPageQuery(em(ctx), status),
      manager: em(ctx),
      parentColumn: "a.tenant_id",
      args,
      map: toAgreement,
    });
  }

  transfers(ctx: RequestContext, agreementId: string, args: PageArgs): Promise<Connection<DataTransfer>> {
    return parentPage(ctx, {
      key: JSON.stringify(["transfers", args.first, args.after]),
      parent: agreementId,
      query: transferPageQuery(em(ctx)),
      manager: em(ctx),
      parentColumn: "t.agreement_id",
      args,
      map: toTransfer,
    });
  }

  transfersOfRecord(ctx: RequestContext, recordId: string): Promise<DataTransfer[]> {
    return ctx.loaders.get(ctx, transfersByRecordLoader).load(recordId);
  }

  /** DOMAIN rules 15-17: the tenant's administrator makes an agreement; where it starts depends on the party. */
  async create(ctx: RequestContext, input: CreateSharingAgreementInput): Promise<SharingAgreement> {
    const tenant = await this.tenants.findVisible(ctx, input.tenantId, { lock: "share" });
    if (!tenant) throw new NotFoundError("tenant");
    auditTarget(ctx, { tenantId: tenant.id });
    const party = await this.parties.held(ctx, input.thirdPartyId);
    if (!party) throw PartyErrors.unknown({ field: "thirdPartyId" });
    const status = initialStatus(party);
    if (!status) throw SharingErrors.neverReceivesData(party.name);
    const purposes = declaredPurposes(input.purposes, "purposes");
    if (input.dataCategories.length === 0) throw SharingErrors.noDataCategory();
    requireActiveSubscription(tenant, "no new sharing");
    const now = ctx.clock.now();
    const agreement = Object.assign(new SharingAgreementEntity(), {
      id: randomUUID(),
      tenantId: tenant.id,
      thirdPartyId: party.id,
      feature: input.feature.trim(),
      direction: input.direction,
      dataCategories: [...new Set(input.dataCategories)],
      purposes,
      status,
      tenantContractReference: input.tenantContractReference ?? null,
      consentGrantedBy: null,
      consentGrantedAt: null,
      consentCategories: null,
      consentPurposes: null,
      revokedBy: null,
      revokedAt: null,
      revocationReason: null,
      createdAt: now,
      updatedAt: now,
    });
    await insertAgreement(em(ctx), agreement);
    auditTarget(ctx, {
      targetType: "SharingAgreement",
      targetId: agreement.id,
      details: { thirdPartyId: party.id, direction: agreement.direction, status, dataCategories: agreement.dataCategories, purposes },
    });
    return toAgreement(agreement);
  }

  private async lockedForConsent(ctx: RequestContext, id: string): Promise<SharingAgreementEntity> {
    const agreement = await this.findVisible(ctx, id, "update");
    if (!agreement) throw new NotFoundError("sharing agreement");
    auditTarget(ctx, { tenantId: agreement.tenantId, targetType: "SharingAgreement", targetId: agreement.id });
    return agreement;
  }

  /** DOMAIN rule 17: the administrator's consent makes an INDEPENDENT party's agreement ACTIVE. */
  async grant(ctx: RequestContext, id: string): Promise<SharingAgreement> {
    const agreement = await this.lockedForConsent(ctx, id);
    const party = await this.parties.byId(ctx, agreement.thirdPartyId);
    if (party?.role !== ThirdPartyRole.INDEPENDENT) {
      throw SharingErrors.agentTakesNoConsent();
    }
    if (agreement.status === SharingAgreementStatus.REVOKED) {
      throw SharingErrors.consentRevoked();
    }
    if (agreement.status === SharingAgreementStatus.ACTIVE) {
      auditTarget(ctx, { details: { alreadyGranted: true } });
      return toAgreement(agreement);
    }
    const now = ctx.clock.now();
    const change = {
      status: SharingAgreementStatus.ACTIVE,
      consentGrantedBy: principalOf(ctx).subject,
      consentGrantedAt: now,
      consentCategories: agreement.dataCategories,
      consentPurposes: agreement.purposes,
      updatedAt: now,
    };
    await updateAgreement(em(ctx), agreement.id, change);
    auditTarget(ctx, { details: { dataCategories: agreement.dataCategories, purposes: agreement.purposes } });
    return toAgreement(Object.assign(agreement, change));
  }

  /**
   * DOMAIN rule 17: revocation is immediate and final. It takes the agreement's row exclusively,
   * so it waits for shares in flight (they hold it shared) and every later share sees REVOKED.
   */
  async revoke(ctx: RequestContext, id: string, reason: string | null | undefined): Promise<SharingAgreement> {
    const agreement = await this.lockedForConsent(ctx, id);
    if (reason != null && reason.length > 500) throw SharingErrors.reasonTooLong();
    if (agreement.status === SharingAgreementStatus.REVOKED) {
      auditTarget(ctx, { details: { alreadyRevoked: true } });
      return toAgreement(agreement);
    }
    const now = ctx.clock.now();
    const change = {
      status: SharingAgreementStatus.REVOKED,
      revokedBy: principalOf(ctx).subject,
      revokedAt: now,
      revocationReason: reason ?? null,
      updatedAt: now,
    };
    await updateAgreement(em(ctx), agreement.id, change);
    auditTarget(ctx, { details: { statusBefore: agreement.status } });
    await emit(ctx, agreement.tenantId, EventType.SHARING_AGREEMENT_SUSPENDED, {
      agreementId: agreement.id,
      thirdPartyId: agreement.thirdPartyId,
      status: SharingAgreementStatus.REVOKED,
    });
    return toAgreement(Object.assign(agreement, change));
  }

  /**
   * DOMAIN rule 18: all records or none, under an ACTIVE OUTBOUND agreement, for one purpose.
   * The agreement and the tenant are held shared until commit: a revocation, a delisting or the
   * end of the subscription happens entirely before or entirely after this share.
   */
  async share(ctx: RequestContext, input: ShareRecordsInput): Promise<DataTransfer> {
    const agreement = await this.findVisible(ctx, input.agreementId, "share");
    if (!agreement) throw new NotFoundError("sharing agreement");
    auditTarget(ctx, { tenantId: agreement.tenantId, targetType: "SharingAgreement", targetId: agreement.id, purpose: input.purpose });
    const ids = [...new Set(input.recordIds.map((id) => id.toLowerCase()))];
    if (ids.length < 1 || ids.length > MAX_SHARE_RECORDS) {
      throw SharingErrors.shareSize(MAX_SHARE_RECORDS, ids.length);
    }
    const tenant = (await this.tenants.findVisible(ctx, agreement.tenantId, { lock: "share" }))!;
    const party = (await this.parties.held(ctx, agreement.thirdPartyId))!;
    const rows = await recordsHeldForShare(em(ctx), agreement.tenantId, ids.filter(isUuid));
    const byId = new Map(rows.map((r) => [r.id, r]));
    const records = ids.map((id) => {
      const r = byId.get(id);
      return r ? { status: r.status, category: r.category, purposes: r.purposes } : { status: null, category: null, purposes: [] };
    });
    const refusal = shareRefusal(
      { purpose: input.purpose, subscriptionActive: tenant.subscriptionStatus === SubscriptionStatus.ACTIVE },
      agreement,
      party,
      records,
    );
    if (refusal) {
      const where =
        refusal.index !== undefined
          ? { field: "recordIds", index: input.recordIds.findIndex((id) => id.toLowerCase() === ids[refusal.index!]) }
          : refusal.code === ErrorCode.BAD_USER_INPUT
            ? { field: "agreementId" }
            : {};
      throw new DomainError(refusal.code, refusal.reason, where);
    }
    const transfer = Object.assign(new DataTransferEntity(), {
      id: randomUUID(),
      tenantId: agreement.tenantId,
      agreementId: agreement.id,
      purpose: input.purpose,
      recordIds: ids,
      categories: [...new Set(records.map((r) => r.category!))].sort(),
      createdAt: ctx.clock.now(),
    });
    await insertTransfer(em(ctx), transfer);
    auditTarget(ctx, {
      targetType: "DataTransfer",
      targetId: transfer.id,
      details: { agreementId: agreement.id, thirdPartyId: party.id, recordCount: ids.length, recordIds: ids, categories: transfer.categories },
    });
    return toTransfer(transfer);
  }

  openNotices(ctx: RequestContext, agreementId: string): Promise<RecipientNotice[]> {
    return ctx.loaders.get(ctx, openNoticesByAgreementLoader).load(agreementId);
  }

  /** Someone of the tenant confirms the recipient was told; twice changes nothing. */
  async confirmNotice(ctx: RequestContext, id: string): Promise<RecipientNotice> {
    const scope = dataScope(principalOf(ctx));
    const row = isUuid(id) && scope.kind === "tenant" ? await noticeHeld(em(ctx), id.toLowerCase(), scope.tenantId) : null;
    if (!row) throw new NotFoundError("recipient notice");
    auditTarget(ctx, {
      tenantId: row.tenant_id,
      targetType: "RecipientNotice",
      targetId: row.id,
      details: { agreementId: row.agreement_id, recordId: row.record_id, kind: row.kind },
    });
    if (row.confirmed_at) return toNotice(row);
    const now = ctx.clock.now();
    await confirmNotice(em(ctx), row.id, now, principalOf(ctx).subject);
    return toNotice({ ...row, confirmed_at: now, confirmed_by: principalOf(ctx).subject });
  }
}

/**
 * What `node` and `nodes` find of sharing: exactly what the caller reaches through the other
 * fields. Agreement viewers reach their scope's agreements, the transfers under them and their
 * open notices (`sharingAgreement`, `transfers`, `openNotices`); a data subject reaches the
 * transfers that carried its own records (its records' `transfers`, each showing only its own
 * records) and their agreements (a transfer's `agreement`); no other role reaches any.
 */
export class SharingNodes {
  async agreements(ctx: RequestContext, ids: readonly string[]): Promise<SharingAgreement[]> {
    const principal = principalOf(ctx);
    switch (sharingReach(principal.role)) {
      case "scope":
        return (await fromRegions(ctx, (on) => visibleAgreements(em(on), dataScope(principal), ids))).map(toAgreement);
      case "own-records": {
        const own = await ownRecordIds(ctx);
        return own ? (await agreementsCarrying(em(ctx), own.tenantId, ids, own.recordIds)).map(toAgreement) : [];
      }
      case "none":
        return [];
    }
  }

  async transfers(ctx: RequestContext, ids: readonly string[]): Promise<DataTransfer[]> {
    const principal = principalOf(ctx);
    switch (sharingReach(principal.role)) {
      case "scope":
        return (await fromRegions(ctx, (on) => visibleTransfers(em(on), dataScope(principal), ids))).map(toTransfer);
      case "own-records": {
        const own = await ownRecordIds(ctx);
        return own ? transfersAsSeen(ctx, await transfersCarrying(em(ctx), own.tenantId, ids, own.recordIds)) : [];
      }
      case "none":
        return [];
    }
  }

  async notices(ctx: RequestContext, ids: readonly string[]): Promise<RecipientNotice[]> {
    const principal = principalOf(ctx);
    if (sharingReach(principal.role) !== "scope") return [];
    return (await fromRegions(ctx, (on) => openNoticesByIds(em(on), dataScope(principal), ids))).map(toNotice);
  }

  /** The tenant's notices among `ids`, confirmed or not, on the tenant's region (`ctx`). */
  async ofTenant(ctx: RequestContext, tenantId: string, ids: readonly string[]): Promise<RecipientNotice[]> {
    return ids.length ? (await noticesByIds(em(ctx), tenantId, ids)).map(toNotice) : [];
  }
}

/** A data subject caller's tenant and own records' ids (its request is on its tenant's region); null for anyone else or no records. */
async function ownRecordIds(ctx: RequestContext): Promise<{ tenantId: string; recordIds: string[] } | null> {
  const scope = dataScope(principalOf(ctx));
  if (scope.kind !== "tenant" || !scope.dataSubjectId) return null;
  const recordIds = await recordIdsOfSubject(em(ctx), scope.tenantId, scope.dataSubjectId);
  return recordIds.length ? { tenantId: scope.tenantId, recordIds } : null;
}

/** Each agreement's unconfirmed notices, one statement for all the agreements a request lists. */
const openNoticesByAgreementLoader = (ctx: RequestContext) =>
  byParentLoader<NoticeRow, RecipientNotice>(
    (ids) => openNoticesOf(em(ctx), ids),
    (row) => row.agreement_id,
    toNotice,
  );

function toNotice(row: NoticeRow): RecipientNotice {
  return Object.assign(new RecipientNotice(), {
    id: row.id,
    tenantId: row.tenant_id,
    agreementId: row.agreement_id,
    recordId: row.record_id,
    kind: row.kind as NoticeKind,
    createdAt: row.created_at,
    confirmedAt: row.confirmed_at,
    confirmedBy: row.confirmed_by,
  });
}
