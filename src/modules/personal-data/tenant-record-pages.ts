import type { RequestContext } from "../../context";
import { principalOf } from "../../context";
import { dataScope } from "../../shared/auth/scope";
import { em } from "../../shared/db/database";
import { jsonRow } from "../../shared/read-path/json-rows";
import { leaveFor, selects, type ResolveTree } from "../../shared/read-path/lookahead";
import { afterPosition, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pageOf } from "../../shared/pagination";
import { subjectJoin } from "../data-subject/data-subject.store";
import { toDataSubject } from "../data-subject/data-subject.types";
import type { TenantJoin } from "../tenant/tenant-joins";
import { type PersonalDataRecordEntity } from "./personal-data-record.entity";
import { toRecord, type PersonalDataRecordFilter } from "./personal-data.types";
import { readsValues, recordColumnsFor, recordSelectionOf } from "./record-columns";
import { countsWholeTenant, recordPageConditions } from "./record-filter";
import { readAhead, screenedPage } from "./value-reader";
import type { SealedValues } from "./sealed-values";
import { recordJoinSql, recordMetadata } from "./personal-data.store";

/**
 * `Tenant.personalDataRecords` fetched by the tenant's own statement (the tenants page, or
 * `tenant(id)`): each tenant's count and page of records (with their subjects, and the rows their
 * values' reads need, when the query asks for them) as JSON in the tenant's row.
 * The conditions are those of PersonalDataService.list (recordPageConditions), with the cursor and
 * (created_at, id) order of its keyset page. Arguments that list would refuse are left to it, so its error
 * is the one the caller sees.
 */
export function planTenantRecordPages(ctx: RequestContext, field: ResolveTree, values: SealedValues): TenantJoin | null {
  const scope = dataScope(principalOf(ctx));
  const first = field.args.first ?? DEFAULT_PAGE_SIZE;
  if (scope.kind === "none" || !Number.isInteger(first) || (first as number) < 1 || (first as number) > MAX_PAGE_SIZE) return null;
  let after: [Date, string] | null = null;
  try {
    after = typeof field.args.after === "string" ? afterPosition(field.args.after) : null;
  } catch {
    return null;
  }
  const filter = field.args.filter as PersonalDataRecordFilter | null | undefined;
  const selection = recordSelectionOf(field);
  if (!selection) return null;
  const withCount = selects(field, "PersonalDataRecordConnection", "totalCount");
  const withPage = selects(field, "PersonalDataRecordConnection", "nodes", "edges", "pageInfo");
  // Whether more follow needs one more row.
  const withNextPage = selects(field, "PersonalDataRecordConnection", "pageInfo");
  // Only the columns the selection needs: the JSON was half ids the response never showed.
  const meta = recordMetadata(em(ctx));
  // With the rows the values' reads need when the page reads values (value-reader.ts).
  const withValues = readsValues(selection);
  const recordRow = jsonRow<PersonalDataRecordEntity>(meta, recordColumnsFor(meta, selection, true));
  const subjectFields = Object.values(selection.nodeFields).filter((f) => f.name === "subject");
  const subjects = subjectJoin(
    em(ctx),
    subjectFields.flatMap((f) => Object.values(f.fieldsByTypeName.DataSubject ?? {}).map((g) => g.name)),
  );
  const subjectRow = subjects.row;
  const withSubjects = subjectFields.length > 0;

  return {
    sql(bind) {
      // Each value is bound where the statement uses it, and only then: a bound value the
      // statement never names is refused by PostgreSQL (a page asking only for its tally's
      // count, or for neither count nor nodes).
      let conditions: string | null = null;
      const where = () => (conditions ??= ["r.tenant_id = t.id", ...recordPageConditions(scope, filter, bind)].join(" AND "));
      // The tally when the page is the whole tenant's (the tenant row is already within the
      // caller's scope): one row read instead of every index entry of the tenant counted.
      const count = !withCount ? "NULL" : countsWholeTenant(scope, filter) ? recordJoinSql.tally("t.id") : recordJoinSql.count(where());
      const columns = [...new Set(["tenant_id", "data_subject_id", "created_at", ...recordRow.columns.map((c) => c.databaseName)])].map((c) => `r.${c}`);
      // The subjects are joined inside the ordered, limited scan, as a plan that looks each one up
      // by key: joined after it, a generic plan (the statement is prepared) hashed every subject
      // of the tenant instead: 2.5x the statement time on the bench at BENCH_SCALE=0.1.
      if (withSubjects) columns.push(...subjectRow.columns.map((c) => `s.${c.databaseName} AS s_${c.databaseName}`));
      const pageWhere = () => where() + (after ? ` AND (r.created_at, r.id) > (${bind(after[0])}, ${bind(after[1])})` : "");
      const page = withPage
        ? `(SELECT coalesce(json_agg(json_build_array(${recordRow.elements("p")}${withSubjects ? `, ${subjectRow.elements("p", "s_")}` : ""}) ORDER BY p.created_at, p.id), '[]')
              FROM (${recordJoinSql.page(columns, withSubjects ? subjects.clause : "", pageWhere(), bind((first as number) + (withNextPage ? 1 : 0)))}) p)`
        : "'[]'::json";
      return `json_build_object('count', ${count}, 'page', ${page})`;
    },
    attach(ctx, tenant, value) {
      // Each record's columns, then (when joined) its subject's, in one array: a dashboard's 400
      // records parse into 400 arrays, not 1,200.
      const { count, page } = value as { count: number | null; page: unknown[][] };
      const subjectAt = recordRow.columns.length;
      const records = page.map((row) => {
        const entity = recordRow.read(row);
        entity.tenantId = tenant.id;
        const record = toRecord(entity);
        if (withValues) readAhead(record, entity);
        // Left on the record, not primed into the subjects' loader: it holds only the selected columns.
        if (withSubjects) {
          const subjectEntity = subjectRow.read(row, subjectAt);
          subjectEntity.tenantId = tenant.id;
          const subject = toDataSubject(subjectEntity);
          record.dataSubjectId = subject.id;
          for (const f of subjectFields) leaveFor(record, f.alias, subject);
        }
        return record;
      });
      const connection = pageOf(
        records,
        first as number,
        count ?? 0,
        (r) => [r.createdAt, r.id],
        (r) => r,
      );
      leaveFor(tenant, field.alias, withValues ? screenedPage(ctx, values, connection) : connection);
    },
  };
}
