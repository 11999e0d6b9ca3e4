import type { RequestContext } from "../../context";
import { principalOf } from "../../context";
import { em } from "../../shared/db/database";
import { DomainError, ErrorCode } from "../../shared/errors";
import { DataLoader } from "../../shared/loaders";
import type { ReadAuditDraft } from "../../shared/audit/audit-draft";
import type { AuditService } from "../audit/audit.service";
import type { ProcessingPurpose } from "../purpose/processing-purpose";
import type { RecordStatus } from "./personal-data.enums";
import type { PersonalDataRecordEntity } from "./personal-data-record.entity";
import type { JsonObject } from "./personal-data.types";
import { valueReadRefusal } from "./read-policy";
import { valueRows, type StoredValueRow } from "./personal-data.store";
import { storedValueOf, type SealedValues } from "./sealed-values";
import type { Connection } from "../../shared/pagination";

export const VALUE_READ_ACTION = "RECORD_VALUE_READ";

const REFUSALS: Record<string, string> = {
  [ErrorCode.FORBIDDEN]: "Your role never reads personal data values.",
  [ErrorCode.PURPOSE_PROHIBITED]: "Personal data is never read for profiling or marketing.",
  [ErrorCode.NOT_FOUND]: "No record with that id exists in your scope.",
  [ErrorCode.RECORD_PENDING_DELETION]: "The record is pending deletion: it can no longer be read, corrected or shared.",
  [ErrorCode.PURPOSE_NOT_PERMITTED]:
    "The record was not collected for this purpose; read it for one of its purposes (a data subject reads with SUBJECT_ACCESS).",
};

interface Row extends StoredValueRow {
  purposes: ProcessingPurpose[];
  status: RecordStatus;
  /** The value opened (or why it cannot be) by the page that read the row ahead (screenedPage). */
  opened?: JsonObject | DomainError;
}

/** A record as the value reader takes it: its id, and the row its page may have read ahead. */
export type ValueKey = { id: string };

const READ_AHEAD = Symbol("the value row read with the record's page");

type ReadAhead = ValueKey & { [READ_AHEAD]?: Row };

/**
 * What a page of records selects so that their value reads need no statement of their own: the
 * columns the decision reads, and the value. Only this reader uses them (readAhead below); a
 * record's value never reaches the schema but through `read`.
 */
export const READ_AHEAD_COLUMNS = ["tenantId", "dataSubjectId", "purposes", "status"] as const;
export const READ_AHEAD_VALUE = ["value", "valueSealed", "valueKeyVersion"] as const;

/**
 * Keeps on `record` the row its value read needs, taken from the page's entity (which then no
 * longer holds the value). The read still decides and audits exactly as for a read by id, on
 * data the same request read a statement earlier.
 */
export function readAhead(record: ValueKey, entity: PersonalDataRecordEntity): void {
  (record as ReadAhead)[READ_AHEAD] = {
    id: entity.id,
    tenant_id: entity.tenantId,
    data_subject_id: entity.dataSubjectId,
    purposes: entity.purposes,
    status: entity.status,
    value: (entity.value ?? null) as JsonObject | null,
    // Left as the page's JSON carried it: decoded only if opened (storedValueOf).
    value_sealed: (entity.valueSealed ?? null) as Buffer | string | null,
    value_key_version: entity.valueKeyVersion ?? null,
  };
  delete entity.value;
  delete entity.valueSealed;
}

/**
 * A page that read its records' values ahead, without the records whose value cannot be opened:
 * a shredded one (its key was destroyed at purge: a restored backup's row) is left out as the
 * purged row it is; one that fails authentication is left out with an error naming it
 * (ctx.recordsLeftOut). A value field is non-null, so one such record would otherwise null the
 * whole page. The values are opened once, here, in one key store statement; the reads still
 * decide and audit each value before handing it out.
 */
export async function screenedPage<T extends ValueKey>(ctx: RequestContext, values: SealedValues, page: Connection<T>): Promise<Connection<T>> {
  const rows = page.nodes.flatMap((record) => (record as ReadAhead)[READ_AHEAD] ?? []);
  if (!rows.length) return page;
  const opened = await values.open(ctx, rows.map(storedValueOf));
  rows.forEach((row, i) => (row.opened = opened[i]));
  const failed = new Set<string>();
  for (const row of rows) {
    if (!(row.opened instanceof DomainError)) continue;
    failed.add(row.id);
    if (row.opened.code === ErrorCode.DATA_INTEGRITY_FAILURE) ctx.recordsLeftOut.push(row.id);
  }
  if (!failed.size) return page;
  const nodes = page.nodes.filter((record) => !failed.has(record.id));
  let edges: Connection<T>["edges"] | undefined;
  return {
    nodes,
    get edges() {
      return (edges ??= page.edges.filter((edge) => !failed.has(edge.node.id)));
    },
    pageInfo: page.pageInfo,
    get totalCount() {
      return page.totalCount;
    },
  };
}

/**
 * Purpose-bound value reads (DOMAIN rules 11, 12, 26). Every value field of a request that
 * asks for the same purpose is batched into one load: one query (none when every record's page
 * read its row ahead), then one audit entry per tenant and outcome listing the record ids,
 * written before any value is handed out. A page of 500 values read for one purpose writes one
 * audit row.
 */
export class ValueReader {
  private readonly factories = new Map<ProcessingPurpose, (ctx: RequestContext) => DataLoader<ValueKey, JsonObject, string>>();

  constructor(
    private readonly audit: AuditService,
    private readonly values: SealedValues,
  ) {}

  read(ctx: RequestContext, record: ValueKey, purpose: ProcessingPurpose): Promise<JsonObject> {
    let factory = this.factories.get(purpose);
    if (!factory) {
      factory = (c: RequestContext) =>
        new DataLoader<ValueKey, JsonObject, string>((keys) => this.load(c, purpose, keys), { maxBatchSize: 1000, cacheKeyFn: (key) => key.id });
      this.factories.set(purpose, factory);
    }
    return ctx.loaders.get(ctx, factory).load(record);
  }

  private async load(ctx: RequestContext, purpose: ProcessingPurpose, keys: readonly ValueKey[]): Promise<Array<JsonObject | Error>> {
    const principal = principalOf(ctx);
    const ids = keys.map((key) => key.id);
    const ahead = keys.flatMap((key) => (key as ReadAhead)[READ_AHEAD] ?? []);
    const readAheadIds = new Set(ahead.map((row) => row.id));
    const missing = ids.filter((id) => !readAheadIds.has(id));
    const rows: Row[] = missing.length ? await valueRows<Row>(em(ctx), missing) : [];
    rows.push(...ahead);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const decisions = ids.map((id) => {
      const row = byId.get(id);
      const code = row
        ? valueReadRefusal(principal, purpose, { tenantId: row.tenant_id, dataSubjectId: row.data_subject_id, purposes: row.purposes, status: row.status })
        : ErrorCode.NOT_FOUND;
      // A refusal for another tenant's record goes to the caller's chain: that tenant's log must not learn of the caller.
      const tenantId = row && code !== ErrorCode.NOT_FOUND ? row.tenant_id : principal.tenantId;
      return { id, row, code, tenantId };
    });

    const groups = new Map<string, ReadAuditDraft & { details: { recordIds: string[] } }>();
    for (const d of decisions) {
      const groupKey = `${d.tenantId}/${d.code}`;
      let group = groups.get(groupKey);
      if (!group) {
        group = { tenantId: d.tenantId, action: VALUE_READ_ACTION, purpose, errorCode: d.code, targetType: "PersonalDataRecord", details: { recordIds: [] } };
        groups.set(groupKey, group);
      }
      group.details.recordIds.push(d.id);
    }
    await this.audit.appendReads(
      ctx,
      [...groups.values()].map((g) => ({ ...g, targetId: g.details.recordIds.length === 1 ? g.details.recordIds[0] : null })),
    );
    // Opened once the read is decided and audited (unless its page opened it to screen it); a
    // value that cannot be opened fails alone.
    const toOpen = decisions.filter((d) => !d.code && !d.row!.opened).map((d) => d.row!);
    const opened = toOpen.length ? await this.values.open(ctx, toOpen.map(storedValueOf)) : [];
    const openedById = new Map(toOpen.map((r, i) => [r.id, opened[i]]));
    for (const d of decisions) if (!d.code && d.row!.opened) openedById.set(d.id, d.row!.opened);
    return decisions.map((d) => (d.code ? new DomainError(d.code, REFUSALS[d.code]) : openedById.get(d.id)!));
  }
}
