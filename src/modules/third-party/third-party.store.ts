import type { EntityManager } from "typeorm";
import { returning } from "../../shared/db/database";
import { ThirdPartyEntity } from "./third-party.entity";

/**
 * The third-party registry and the subprocessor list (third_party, subprocessor_list,
 * subprocessor_list_change): every statement over them. Reference data, readable by every role.
 */

export function partiesByIds(manager: EntityManager, ids: readonly string[]): Promise<ThirdPartyEntity[]> {
  return manager.getRepository(ThirdPartyEntity).createQueryBuilder("p").where("p.id IN (:...ids)", { ids }).getMany();
}

/** By name; only `role` when given. */
export function partiesByName(manager: EntityManager, role: string | null | undefined): Promise<ThirdPartyEntity[]> {
  const query = manager.getRepository(ThirdPartyEntity).createQueryBuilder("p").orderBy("p.name", "ASC");
  if (role) query.where("p.role = :role", { role });
  return query.getMany();
}

/** One party, locked until the transaction ends: `share` lets other readers hold it too, `update` excludes them. */
export function partyHeld(manager: EntityManager, id: string, lock: "share" | "update"): Promise<ThirdPartyEntity | null> {
  return manager
    .getRepository(ThirdPartyEntity)
    .createQueryBuilder("p")
    .where("p.id = :id", { id })
    .setLock(lock === "share" ? "pessimistic_read" : "pessimistic_write")
    .getOne();
}

/** Throws the driver's unique violation when the name is taken. */
export async function insertParty(manager: EntityManager, party: ThirdPartyEntity): Promise<void> {
  await manager.getRepository(ThirdPartyEntity).insert(party);
}

/** The agents on the subprocessor list, by name. */
export function listedSubprocessors(manager: EntityManager): Promise<ThirdPartyEntity[]> {
  return manager
    .getRepository(ThirdPartyEntity)
    .createQueryBuilder("p")
    .where("p.role = 'AGENT' AND p.listed_as_subprocessor")
    .orderBy("p.name", "ASC")
    .getMany();
}

export async function subprocessorListHead(manager: EntityManager): Promise<{ version: number; updatedAt: Date }> {
  const [head]: Array<{ version: number; updated_at: Date }> = await manager.query(`SELECT version, updated_at FROM subprocessor_list WHERE id = 1`);
  return { version: head.version, updatedAt: head.updated_at };
}

export async function listChangesSince(
  manager: EntityManager,
  sinceVersion: number,
): Promise<Array<{ version: number; thirdPartyId: string; listed: boolean; changedAt: Date }>> {
  const rows: Array<{ version: number; third_party_id: string; listed: boolean; changed_at: Date }> = await manager.query(
    `SELECT version, third_party_id, listed, changed_at FROM subprocessor_list_change WHERE version > $1 ORDER BY version`,
    [sinceVersion],
  );
  return rows.map((r) => ({ version: r.version, thirdPartyId: r.third_party_id, listed: r.listed, changedAt: r.changed_at }));
}

/**
 * A listing change: the list's version goes up (its head row serialises changes), the change is
 * kept in the history, and the party's flag follows. Returns the new version.
 */
export async function recordListingChange(manager: EntityManager, partyId: string, listed: boolean, now: Date, changedBy: string): Promise<number> {
  const [{ version }] = await returning<{ version: number }>(
    manager,
    `UPDATE subprocessor_list SET version = version + 1, updated_at = $1 WHERE id = 1 RETURNING version`,
    [now],
  );
  await manager.query(`INSERT INTO subprocessor_list_change (version, third_party_id, listed, changed_at, changed_by) VALUES ($1, $2, $3, $4, $5)`, [
    version,
    partyId,
    listed,
    now,
    changedBy,
  ]);
  await manager.query(`UPDATE third_party SET listed_as_subprocessor = $2, updated_at = $3 WHERE id = $1`, [partyId, listed, now]);
  return version;
}

/** Brings `to`'s third parties up to `from`'s (control's registry, copied into a region database); `ids` limits it to those. */
export async function copyParties(from: EntityManager, to: EntityManager, ids?: readonly string[]): Promise<void> {
  const rows = ids ? await partiesByIds(from, ids) : await from.getRepository(ThirdPartyEntity).find();
  if (rows.length) await to.getRepository(ThirdPartyEntity).upsert(rows, ["id"]);
}
