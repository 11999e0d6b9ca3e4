import type { EntityMetadata } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";

/**
 * Rows of a joined level travel as JSON inside their parent's row (one statement for both), as
 * arrays of column values: cheaper to build and to parse back than objects. A JsonRow
 * writes that array for some of an entity's readable columns and reads it back into the entity,
 * so the mapping stays the entity's own. Columns marked `select: false` (a record's value) are
 * never included.
 */
export interface JsonRow<E> {
  readonly columns: readonly ColumnMetadata[];
  /** The SQL expression of the array over the table alias `alias` (its columns named `prefix` + column). */
  sql(alias: string, prefix?: string): string;
  /** The array's elements alone, to put in an array shared with other rows (read them at an offset). */
  elements(alias: string, prefix?: string): string;
  /** The entity from such an array, from `offset` on; columns left out stay undefined (no resolver reads them). */
  read(values: unknown[], offset?: number): E;
}

const TIMESTAMP_TYPES = new Set<unknown>(["timestamptz", "timestamp with time zone", "timestamp", Date]);

export function jsonRow<E>(meta: EntityMetadata, columns: ColumnMetadata[] = readableColumns(meta)): JsonRow<E> {
  const properties = columns.map((c) => c.propertyName);
  const timestamps = columns.map((c) => TIMESTAMP_TYPES.has(c.type));
  const elements = (alias: string, prefix = "") => columns.map((c) => `${alias}.${prefix}${c.databaseName}`).join(", ");
  return {
    columns,
    sql: (alias, prefix = "") => `json_build_array(${elements(alias, prefix)})`,
    elements,
    read(values, offset = 0) {
      const entity: Record<string, unknown> = {};
      for (let i = 0; i < properties.length; i++) {
        const value = values[offset + i];
        entity[properties[i]] = value != null && timestamps[i] ? new Date(value as string) : value;
      }
      return entity as E;
    },
  };
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
