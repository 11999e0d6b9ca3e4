import type { EntityMetadata } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import { columnsFor } from "../../shared/read-path/json-rows";
import { connectionNodeFields, selects, type ResolveTree } from "../../shared/read-path/lookahead";
import { READ_AHEAD_COLUMNS, READ_AHEAD_VALUE } from "./value-reader";

/** What a query selects on a page of records, as far as the columns to read depend on it. */
export interface RecordSelection {
  /** The fields selected on the records (through nodes and edges.node), by response key. */
  nodeFields: Record<string, ResolveTree>;
  /** Whether cursors are asked for (edges or pageInfo): they need each record's created_at. */
  cursors: boolean;
}

/** The selection under a PersonalDataRecordConnection field; null when it cannot be read. */
export function recordSelectionOf(connection: ResolveTree | null): RecordSelection | null {
  const nodeFields = connection && connectionNodeFields(connection, "PersonalDataRecordConnection", "PersonalDataRecordEdge", "PersonalDataRecord");
  return nodeFields ? { nodeFields, cursors: selects(connection, "PersonalDataRecordConnection", "edges", "pageInfo") } : null;
}

/** Whether a page's selection reads values: the page then reads their rows ahead (value-reader.ts). */
export function readsValues(selection: RecordSelection): boolean {
  return Object.values(selection.nodeFields).some((f) => f.name === "value");
}

/**
 * The record columns a selection needs: the id, created_at for cursors, and the columns behind
 * each selected field; for `value`, the rows its reads need, value included (READ_AHEAD).
 * `joined`: the statement brings the record's tenant and subject itself (the tenant's own
 * statement), so their ids need no column. A field known to neither takes every column.
 */
export function recordColumnsFor(meta: EntityMetadata, selection: RecordSelection, joined: boolean): ColumnMetadata[] {
  const columns = columnsFor(
    meta,
    Object.values(selection.nodeFields).map((f) => f.name),
    // Unjoined, the tenant always: the record's fields are answered on its tenant's region (region-routing).
    [...(selection.cursors ? ["id", "createdAt"] : ["id"]), ...(joined ? [] : ["tenantId"])],
    {
      subject: joined ? [] : ["dataSubjectId"],
      tenant: joined ? [] : ["tenantId"],
      storageLocation: ["storageLocationCode"],
      source: ["sourceThirdPartyId"],
      transfers: [],
      value: READ_AHEAD_COLUMNS.filter((c) => !joined || c !== "tenantId"),
    },
  );
  // The value is never a readable column (select: false): only a page that reads values adds it.
  return readsValues(selection) ? [...columns, ...READ_AHEAD_VALUE.map((name) => meta.findColumnWithPropertyName(name)!)] : columns;
}
