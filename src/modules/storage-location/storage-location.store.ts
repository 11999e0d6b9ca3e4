import type { EntityManager } from "typeorm";
import { jsonRow } from "../../shared/read-path/json-rows";
import { StorageLocation } from "./storage-location.entity";

/**
 * The storage_location table: reference data every tenant reads, written by operators and the
 * start-up seed. The only code that names the table.
 */

export function locationsByCode(manager: EntityManager, codes: readonly string[]): Promise<StorageLocation[]> {
  return manager.getRepository(StorageLocation).createQueryBuilder("l").where("l.code IN (:...codes)", { codes }).getMany();
}

export function allLocations(manager: EntityManager): Promise<StorageLocation[]> {
  return manager.getRepository(StorageLocation).find({ order: { code: "ASC" } });
}

/** Throws the driver's unique violation when the code exists. */
export async function insertLocation(manager: EntityManager, location: StorageLocation): Promise<void> {
  await manager.getRepository(StorageLocation).insert(location);
}

/** Adds a location unless its code exists; changes none that exist. */
export async function insertLocationIfMissing(
  manager: EntityManager,
  l: Pick<StorageLocation, "code" | "name" | "dataCenterCountries">,
  now: Date,
): Promise<void> {
  await manager.query(`INSERT INTO storage_location (code, name, data_center_countries, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (code) DO NOTHING`, [
    l.code,
    l.name,
    l.dataCenterCountries,
    now,
  ]);
}

/**
 * For a read that joins: a scalar JSON expression of the location whose code is `codeSql` (an
 * expression of the joining query), and how to read the value back.
 */
export function locationJoin(manager: EntityManager): { sql: (codeSql: string) => string; read: (value: unknown[]) => StorageLocation } {
  const meta = manager.connection.getMetadata(StorageLocation);
  const row = jsonRow<StorageLocation>(meta);
  return {
    sql: (codeSql) => `(SELECT ${row.sql("l")} FROM storage_location l WHERE l.code = ${codeSql})`,
    read: (value) => Object.assign(meta.create() as StorageLocation, row.read(value)),
  };
}

/** Brings `to`'s locations up to `from`'s (control's, copied into a region database): adds and updates, deletes none. */
export async function copyLocations(from: EntityManager, to: EntityManager): Promise<void> {
  const rows = await allLocations(from);
  if (rows.length) await to.getRepository(StorageLocation).upsert(rows, ["code"]);
}

/** Every location's code. */
export async function locationCodes(manager: EntityManager): Promise<string[]> {
  const rows: Array<{ code: string }> = await manager.query(`SELECT code FROM storage_location ORDER BY code`);
  return rows.map((r) => r.code);
}
