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
