import type { EntityMetadata } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";

/**
 * Rows of a joined level travel as JSON inside their parent's row (one statement for both).
 * These helpers build that JSON from an entity's readable columns and turn it back into the
 * entity, so the mapping stays the entity's own. Columns marked `select: false` (a record's
 * value) are never included.
 */
export function jsonObjectOf(meta: EntityMetadata, alias: string, columns: ColumnMetadata[] = readableColumns(meta)): string {
  return `json_build_object(${columns.map((c) => `'${c.databaseName}', ${alias}.${c.databaseName}`).join(", ")})`;
}

export function readableColumns(meta: EntityMetadata): ColumnMetadata[] {
  return meta.columns.filter((c) => c.isSelect);
}

/**
 * The columns a selection needs: `always`, each selected field that is a column of the entity,
 * and the columns `resolvedFrom` names for fields resolved from them (a record's subject from its
 * subject id). A field known to neither takes every readable column, so nothing is ever missing.
 */
export function columnsFor(meta: EntityMetadata, fieldNames: string[], always: string[], resolvedFrom: Record<string, string[]>): ColumnMetadata[] {
  const wanted = new Set(always);
  for (const name of fieldNames) {
    if (name === "__typename") continue;
    const column = readableColumns(meta).find((c) => c.propertyName === name);
    if (column) wanted.add(name);
    else if (resolvedFrom[name]) resolvedFrom[name].forEach((p) => wanted.add(p));
    else return readableColumns(meta);
  }
  return readableColumns(meta).filter((c) => wanted.has(c.propertyName));
}

const TIMESTAMP_TYPES = new Set<unknown>(["timestamptz", "timestamp with time zone", "timestamp", Date]);

/** The entity from such JSON; columns the JSON leaves out stay undefined (no resolver reads them). */
export function entityFromJson<E>(meta: EntityMetadata, json: Record<string, unknown>): E {
  const entity = meta.create() as Record<string, unknown>;
  for (const column of meta.columns) {
    if (!column.isSelect || !(column.databaseName in json)) continue;
    const value = json[column.databaseName];
    entity[column.propertyName] = value != null && TIMESTAMP_TYPES.has(column.type) ? new Date(value as string) : value;
  }
  return entity as E;
}
