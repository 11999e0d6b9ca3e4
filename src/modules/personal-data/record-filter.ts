import type { DataScope } from "../../shared/auth/scope";
import { isUuid } from "../../shared/ids";
import type { PersonalDataRecordFilter } from "./personal-data.types";

/**
 * The conditions a record filter puts on records aliased `r`; `bind` takes each value and returns
 * its placeholder. One definition for a tenant's own page (TypeORM) and the tenants page's join
 * (raw SQL), so both always narrow alike.
 */
export function recordFilterConditions(filter: PersonalDataRecordFilter | null | undefined, bind: (value: unknown) => string): string[] {
  const conditions: string[] = [];
  if (filter?.dataSubjectId) {
    // An id that is not a uuid names no subject: an empty page, like any other unknown id.
    conditions.push(`r.data_subject_id = ${bind(isUuid(filter.dataSubjectId) ? filter.dataSubjectId.toLowerCase() : null)}`);
  }
  if (filter?.category) conditions.push(`r.category = ${bind(filter.category)}`);
  if (filter?.status) conditions.push(`r.status = ${bind(filter.status)}`);
  return conditions;
}

/**
 * Every condition of a page of records (alias `r`) besides its parent: the caller's data scope
 * (a tenant role its tenant, a data subject its own records) and the filter. One definition for
 * a page's own statement (PersonalDataService.list) and the tenants page's join
 * (tenant-record-pages), so the two cannot disagree on what a caller sees.
 */
export function recordPageConditions(
  scope: Exclude<DataScope, { kind: "none" }>,
  filter: PersonalDataRecordFilter | null | undefined,
  bind: (value: unknown) => string,
): string[] {
  const conditions: string[] = [];
  if (scope.kind === "tenant") {
    conditions.push(`r.tenant_id = ${bind(scope.tenantId)}`);
    if (scope.dataSubjectId) conditions.push(`r.data_subject_id = ${bind(scope.dataSubjectId)}`);
  }
  return [...conditions, ...recordFilterConditions(filter, bind)];
}

/**
 * Whether a page's records are all of its tenant's: no filter narrows them and the caller sees
 * every record of the tenant (a data subject sees only its own). Such a page's count is the
 * tenant's tally.
 */
export function countsWholeTenant(scope: Exclude<DataScope, { kind: "none" }>, filter: PersonalDataRecordFilter | null | undefined): boolean {
  return !(scope.kind === "tenant" && scope.dataSubjectId) && recordFilterConditions(filter, () => "").length === 0;
}
