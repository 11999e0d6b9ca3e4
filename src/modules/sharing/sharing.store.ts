import type { EntityManager } from "typeorm";

/**
 * Statements and typed fragments over sharing's tables (sharing_agreement, data_transfer,
 * recipient_notice) that other features compose or call through a port.
 */

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
