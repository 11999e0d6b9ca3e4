import type { EntityMetadata } from "typeorm";
import type { ColumnMetadata } from "typeorm/metadata/ColumnMetadata";
import { columnsFor } from "../../shared/db/json-rows";
import { connectionNodeFields, selects, type ResolveTree } from "../../shared/graphql/lookahead";

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

/**
 * The record columns a selection needs: the id, created_at for cursors, and the columns behind
 * each selected field. `joined`: the statement brings the record's tenant and subject itself
 * (the tenants page), so their ids need no column. A field known to neither takes every column.
 */
export function recordColumnsFor(meta: EntityMetadata, selection: RecordSelection, joined: boolean): ColumnMetadata[] {
  return columnsFor(
    meta,
    Object.values(selection.nodeFields).map((f) => f.name),
    selection.cursors ? ["id", "createdAt"] : ["id"],
    {
      subject: joined ? [] : ["dataSubjectId"],
      tenant: joined ? [] : ["tenantId"],
      storageLocation: ["storageLocationCode"],
      source: ["sourceThirdPartyId"],
      transfers: [],
      value: [],
    },
  );
}
