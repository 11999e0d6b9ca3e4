import type { EntityManager, SelectQueryBuilder } from "typeorm";
import type { DataScope } from "../../shared/auth/scope";
import { FAIR_LOCK_CLASS, queueFairly } from "../../shared/db/fair-lock";
import type { ProcessingPurpose } from "../purpose/processing-purpose";
import type { DataCategory } from "../personal-data/personal-data.enums";
import { DataTransferEntity, SharingAgreementEntity } from "./sharing.entities";
import type { SharingAgreementStatus, SharingDirection } from "./sharing.types";
import { scopedTo } from "../../shared/db/scoped-query";

/**
 * Sharing's tables (sharing_agreement, data_transfer, recipient_notice): every statement over
 * them, and typed fragments for other features' statements to compose.
 */

export function agreementsByIds(manager: EntityManager, ids: readonly string[]): Promise<SharingAgreementEntity[]> {
  return manager.getRepository(SharingAgreementEntity).createQueryBuilder("a").where("a.id IN (:...ids)", { ids }).getMany();
}

/**
 * The agreement if `scope` reaches it, else null. Writers lock it until the transaction ends:
 * shares shared, consent changes exclusively, each queued first (queueFairly), so a revocation
 * waits only for the shares already in, not for every share that starts while it waits.
 */
export async function visibleAgreement(
  manager: EntityManager,
  scope: DataScope,
  id: string,
  lock?: "share" | "update",
): Promise<SharingAgreementEntity | null> {
  const query = scopedTo(manager.getRepository(SharingAgreementEntity).createQueryBuilder("a").where("a.id = :id", { id }), scope, { tenant: "a.tenant_id" });
  if (!query) return null;
  if (lock) await queueFairly(manager, FAIR_LOCK_CLASS.agreement, id, lock);
  if (lock === "share") query.setLock("pessimistic_read");
  if (lock === "update") query.setLock("pessimistic_write");
  return query.getOne();
}

/** The agreements among `ids` (lower-case uuids) that `scope` reaches. */
export function visibleAgreements(manager: EntityManager, scope: DataScope, ids: readonly string[]): Promise<SharingAgreementEntity[]> {
  const query = scopedTo(manager.getRepository(SharingAgreementEntity).createQueryBuilder("a").where("a.id IN (:...ids)", { ids }), scope, {
    tenant: "a.tenant_id",
  });
  return query?.getMany() ?? Promise.resolve([]);
}

/** The tenant's agreements among `ids` under which some transfer carried one of `recordIds`. */
export function agreementsCarrying(
  manager: EntityManager,
  tenantId: string,
  ids: readonly string[],
  recordIds: readonly string[],
): Promise<SharingAgreementEntity[]> {
  return manager
    .getRepository(SharingAgreementEntity)
    .createQueryBuilder("a")
    .where("a.id IN (:...ids)", { ids })
    .andWhere("a.tenant_id = :tenantId", { tenantId })
    .andWhere("EXISTS (SELECT 1 FROM data_transfer t WHERE t.agreement_id = a.id AND t.record_ids && CAST(:recordIds AS uuid[]))", { recordIds })
    .getMany();
}

/** The transfers among `ids` that `scope` reaches. */
export function visibleTransfers(manager: EntityManager, scope: DataScope, ids: readonly string[]): Promise<DataTransferEntity[]> {
  const query = scopedTo(manager.getRepository(DataTransferEntity).createQueryBuilder("t").where("t.id IN (:...ids)", { ids }), scope, {
    tenant: "t.tenant_id",
  });
  return query?.getMany() ?? Promise.resolve([]);
}

/** The tenant's transfers among `ids` that carried one of `recordIds`. */
export function transfersCarrying(
  manager: EntityManager,
  tenantId: string,
  ids: readonly string[],
  recordIds: readonly string[],
): Promise<DataTransferEntity[]> {
  return manager
    .getRepository(DataTransferEntity)
    .createQueryBuilder("t")
    .where("t.id IN (:...ids)", { ids })
    .andWhere("t.tenant_id = :tenantId", { tenantId })
    .andWhere("t.record_ids && CAST(:recordIds AS uuid[])", { recordIds })
    .getMany();
}

/** A page's query of agreements (alias `a`) for parentPage: its parent is `a.tenant_id`. */
export function agreementPageQuery(manager: EntityManager, status: SharingAgreementStatus | null | undefined): SelectQueryBuilder<SharingAgreementEntity> {
  const query = manager.getRepository(SharingAgreementEntity).createQueryBuilder("a");
  if (status) query.andWhere("a.status = :status", { status });
  return query;
}

/** A page's query of transfers (alias `t`) for parentPage: its parent is `t.agreement_id`. */
export function transferPageQuery(manager: EntityManager): SelectQueryBuilder<DataTransferEntity> {
  return manager.getRepository(DataTransferEntity).createQueryBuilder("t");
}

/** The transfers that included any of the records, oldest first. */
export function transfersIncluding(manager: EntityManager, recordIds: readonly string[]): Promise<DataTransferEntity[]> {
  return manager
    .getRepository(DataTransferEntity)
    .createQueryBuilder("t")
    .where("t.record_ids && CAST(:ids AS uuid[])", { ids: [...recordIds] })
    .orderBy("t.created_at", "ASC")
    .addOrderBy("t.id", "ASC")
    .getMany();
}

export async function insertAgreement(manager: EntityManager, agreement: SharingAgreementEntity): Promise<void> {
  await manager.getRepository(SharingAgreementEntity).insert(agreement);
}

export async function updateAgreement(manager: EntityManager, id: string, change: Partial<SharingAgreementEntity>): Promise<void> {
  await manager.getRepository(SharingAgreementEntity).update({ id }, change);
}

export async function insertTransfer(manager: EntityManager, transfer: DataTransferEntity): Promise<void> {
  await manager.getRepository(DataTransferEntity).insert(transfer);
}

/** The tenant's INBOUND agreements with any of the parties, held FOR SHARE until the write that checks them commits. */
export function inboundAgreementsHeld(
  manager: EntityManager,
  tenantId: string,
  partyIds: readonly string[],
): Promise<
  Array<{
    third_party_id: string;
    status: SharingAgreementStatus;
    direction: SharingDirection;
    data_categories: DataCategory[];
    purposes: ProcessingPurpose[];
    consent_categories: DataCategory[] | null;
    consent_purposes: ProcessingPurpose[] | null;
  }>
> {
  return manager.query(
    `SELECT third_party_id, status, direction, data_categories, purposes, consent_categories, consent_purposes
       FROM sharing_agreement WHERE tenant_id = $1 AND third_party_id = ANY($2::uuid[]) AND direction = 'INBOUND'
       ORDER BY id FOR SHARE`,
    [tenantId, partyIds],
  );
}

export interface NoticeRow {
  id: string;
  tenant_id: string;
  agreement_id: string;
  record_id: string;
  kind: string;
  created_at: Date;
  confirmed_at: Date | null;
  confirmed_by: string | null;
}

/** Each agreement's unconfirmed notices, by agreement, oldest first. */
export function openNoticesOf(manager: EntityManager, agreementIds: readonly string[]): Promise<NoticeRow[]> {
  return manager.query(
    `SELECT id, tenant_id, agreement_id, record_id, kind, created_at, confirmed_at, confirmed_by FROM recipient_notice
      WHERE agreement_id = ANY($1::uuid[]) AND confirmed_at IS NULL ORDER BY agreement_id, created_at, id`,
    [agreementIds],
  );
}

/** The unconfirmed notices among `ids` that `scope` reaches (a tenant role its tenant's). */
export function openNoticesByIds(manager: EntityManager, scope: DataScope, ids: readonly string[]): Promise<NoticeRow[]> {
  if (scope.kind === "none") return Promise.resolve([]);
  const tenant = scope.kind === "tenant" ? scope.tenantId : null;
  return manager.query(
    `SELECT id, tenant_id, agreement_id, record_id, kind, created_at, confirmed_at, confirmed_by FROM recipient_notice
      WHERE id = ANY($1::uuid[]) AND confirmed_at IS NULL AND ($2::uuid IS NULL OR tenant_id = $2)`,
    [ids, tenant],
  );
}

/** The tenant's notices among `ids`, confirmed or not (a subject request lists those it opened). */
export function noticesByIds(manager: EntityManager, tenantId: string, ids: readonly string[]): Promise<NoticeRow[]> {
  return manager.query(
    `SELECT id, tenant_id, agreement_id, record_id, kind, created_at, confirmed_at, confirmed_by FROM recipient_notice
      WHERE id = ANY($1::uuid[]) AND tenant_id = $2 ORDER BY created_at, id`,
    [ids, tenantId],
  );
}

/** The tenant's notice, locked FOR UPDATE until the transaction ends; none when another tenant's. */
export async function noticeHeld(manager: EntityManager, id: string, tenantId: string): Promise<NoticeRow | null> {
  const [row]: NoticeRow[] = await manager.query(`SELECT * FROM recipient_notice WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, [id, tenantId]);
  return row ?? null;
}

export async function confirmNotice(manager: EntityManager, id: string, at: Date, by: string): Promise<void> {
  await manager.query(`UPDATE recipient_notice SET confirmed_at = $2, confirmed_by = $3 WHERE id = $1`, [id, at, by]);
}

/**
 * Raises a notice per agreement each record went out under (one open notice per agreement,
 * record and kind); returns those raised.
 */
export function raiseNotices(
  manager: EntityManager,
  tenantId: string,
  recordIds: readonly string[],
  kind: string,
  now: Date,
): Promise<Array<{ id: string; agreement_id: string; record_id: string }>> {
  return manager.query(
    `INSERT INTO recipient_notice (id, tenant_id, agreement_id, record_id, kind, created_at)
       SELECT gen_random_uuid(), $1, shared.agreement_id, shared.record_id, $3, $4
         FROM (SELECT DISTINCT t.agreement_id, r AS record_id
                 FROM data_transfer t, unnest(t.record_ids) AS r
                WHERE t.tenant_id = $1 AND t.record_ids && $2::uuid[] AND r = ANY($2::uuid[])) shared
       ON CONFLICT (agreement_id, record_id, kind) WHERE confirmed_at IS NULL DO NOTHING
       RETURNING id, agreement_id, record_id`,
    [tenantId, recordIds, kind, now],
  );
}

/** The notices of `kind` raised since `since` for any of `recordIds` (a rectification request's answer). */
export async function noticesOfRecordsSince(
  manager: EntityManager,
  tenantId: string,
  recordIds: readonly string[],
  kind: string,
  since: Date,
): Promise<string[]> {
  const rows: Array<{ id: string }> = await manager.query(
    `SELECT id FROM recipient_notice WHERE tenant_id = $1 AND record_id = ANY ($2::uuid[]) AND kind = $3 AND created_at >= $4 ORDER BY created_at, id`,
    [tenantId, recordIds, kind, since],
  );
  return rows.map((r) => r.id);
}

/** Moves every agreement with a party from one status to another; the changed ones, by tenant then id. */
export async function moveAgreementsOfParty(
  manager: EntityManager,
  partyId: string,
  from: string,
  to: string,
  now: Date,
): Promise<Array<{ id: string; tenantId: string }>> {
  const rows: Array<{ id: string; tenant_id: string }> = await manager.query(
    `WITH changed AS (
       UPDATE sharing_agreement SET status = $3, updated_at = $4 WHERE third_party_id = $1 AND status = $2 RETURNING id, tenant_id)
     SELECT id, tenant_id FROM changed ORDER BY tenant_id, id`,
    [partyId, from, to, now],
  );
  return rows.map((r) => ({ id: r.id, tenantId: r.tenant_id }));
}

/** A scalar count of the tenant's agreements in `status` (both SQL expressions of the composing statement). */
export function agreementCountSql(tenantIdSql: string, statusSql: string): string {
  return `(SELECT count(*) FROM sharing_agreement WHERE tenant_id = ${tenantIdSql} AND status = ${statusSql})`;
}

export interface TransferOfRecordsRow {
  id: string;
  agreementId: string;
  feature: string;
  direction: string;
  thirdPartyId: string;
  purpose: string;
  categories: string[];
  createdAt: Date;
  /** Only those of the records asked about. */
  recordIds: string[];
}

/** The tenant's transfers that included any of `recordIds`, with their agreement, oldest first. */
export async function transfersOfRecords(manager: EntityManager, tenantId: string, recordIds: readonly string[]): Promise<TransferOfRecordsRow[]> {
  const rows: Array<Record<string, unknown>> = await manager.query(
    `SELECT t.id, t.agreement_id, a.feature, a.direction, a.third_party_id, t.purpose, t.categories, t.created_at,
            ARRAY(SELECT r FROM unnest(t.record_ids) AS r WHERE r = ANY($2::uuid[])) AS record_ids
       FROM data_transfer t JOIN sharing_agreement a ON a.id = t.agreement_id
      WHERE t.tenant_id = $1 AND t.record_ids && $2::uuid[]
      ORDER BY t.created_at, t.id`,
    [tenantId, recordIds],
  );
  return rows.map((r) => ({
    id: r.id as string,
    agreementId: r.agreement_id as string,
    feature: r.feature as string,
    direction: r.direction as string,
    thirdPartyId: r.third_party_id as string,
    purpose: r.purpose as string,
    categories: r.categories as string[],
    createdAt: r.created_at as Date,
    recordIds: r.record_ids as string[],
  }));
}
