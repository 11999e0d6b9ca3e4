import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The import and table boundaries of src/ (ESLint checks one file at a time; these need the
 * whole tree). A finding is one line of text, so a baseline of known ones can be compared:
 * - `shared-imports-feature`: src/shared/ imports a feature, or the app around it (context,
 *   schema, server): shared code must work for every feature.
 * - `feature-cycle`: features whose folders import each other, directly or round a loop.
 * - `foreign-table`: a feature's SQL names a table another feature owns.
 * - `sql-outside-store`: a feature's own table reached outside its store files (`*.store.ts`),
 *   where every statement and fragment over the feature's tables lives.
 */

/** Which feature owns each table: only that feature's code may name it in SQL. */
export const TABLE_OWNERS: Readonly<Record<string, string>> = {
  storage_location: "storage-location",
  tenant: "tenant",
  audit_log: "audit",
  audit_chain: "audit",
  audit_checkpoint: "audit",
  data_subject: "data-subject",
  personal_data_record: "personal-data",
  idempotency_key: "personal-data",
  third_party: "third-party",
  subprocessor_list: "third-party",
  subprocessor_list_change: "third-party",
  sharing_agreement: "sharing",
  data_transfer: "sharing",
  recipient_notice: "sharing",
  breach_incident: "incident",
  breach_affected_tenant: "incident",
  breach_notification: "incident",
  subject_request: "subject-request",
  event: "events",
  webhook_endpoint: "events",
  webhook_delivery: "events",
  purge_tally: "retention",
  // The key store's tables (a database of their own, see src/modules/keys).
  tenant_key: "keys",
  subject_key: "keys",
  record_key: "keys",
};

/** The TypeORM entities over those tables: naming one outside its feature is reaching its table. */
export const ENTITY_TABLES: Readonly<Record<string, string>> = {
  StorageLocation: "storage_location",
  TenantEntity: "tenant",
  DataSubjectEntity: "data_subject",
  PersonalDataRecordEntity: "personal_data_record",
  ThirdPartyEntity: "third_party",
  SharingAgreementEntity: "sharing_agreement",
  DataTransferEntity: "data_transfer",
  BreachIncidentEntity: "breach_incident",
  SubjectRequestEntity: "subject_request",
  EventEntity: "event",
  WebhookEndpointEntity: "webhook_endpoint",
  WebhookDeliveryEntity: "webhook_delivery",
};

export interface SourceFile {
  /** Relative to the repository root, with forward slashes: src/modules/audit/audit.service.ts. */
  path: string;
  text: string;
}

/** The relative imports of a file, resolved to repository paths (without extension). */
export function importsOf(file: SourceFile): string[] {
  const found = new Set<string>();
  for (const match of file.text.matchAll(/(?:from\s+|import\s+|import\s*\(\s*|require\s*\(\s*)["'](\.{1,2}\/[^"']+)["']/g)) {
    found.add(
      join(dirname(file.path), match[1])
        .replace(/\\/g, "/")
        .replace(/\.(ts|js)$/, ""),
    );
  }
  return [...found];
}

/** The feature a path belongs to (src/modules/<feature>/...), or null. */
export function featureOf(path: string): string | null {
  return /^src\/modules\/([^/]+)\//.exec(path)?.[1] ?? null;
}

/**
 * Tables a file reaches: named in SQL after FROM, JOIN, INTO, UPDATE or TABLE, or through their
 * entity handed to TypeORM (a repository, metadata, a query builder). An entity that is also a
 * GraphQL type may be named as a field's type: that reads nothing.
 */
export function tablesNamed(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.matchAll(/\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+([a-z_]+)\b/g)) {
    if (match[1] in TABLE_OWNERS) names.add(match[1]);
  }
  for (const [entity, table] of Object.entries(ENTITY_TABLES)) {
    if (new RegExp(`\\b(?:getRepository|getMetadata|createQueryBuilder|update|insert|delete|from|into)\\(\\s*${entity}\\b`).test(text)) names.add(table);
  }
  return [...names];
}

/** A feature's store: the files that may name its tables. */
export function isStoreFile(path: string): boolean {
  return /\.store\.ts$/.test(path);
}

/** Every cycle of the feature graph, each as its features in order from the smallest name. */
export function featureCycles(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const cycles = new Set<string>();
  const walk = (start: string, at: string, path: string[]) => {
    for (const next of edges.get(at) ?? []) {
      if (next === start) {
        const smallest = path.indexOf([...path].sort()[0]);
        cycles.add([...path.slice(smallest), ...path.slice(0, smallest)].join(" -> "));
      } else if (!path.includes(next) && next > start) {
        walk(start, next, [...path, next]);
      }
    }
  };
  for (const start of [...edges.keys()].sort()) walk(start, start, [start]);
  return [...cycles].sort().map((c) => c.split(" -> "));
}

/** The findings over a set of files, one line each, sorted. */
export function findings(files: readonly SourceFile[]): string[] {
  const out = new Set<string>();
  const edges = new Map<string, Set<string>>();
  for (const file of files) {
    const imports = importsOf(file);
    const feature = featureOf(file.path);
    if (file.path.startsWith("src/shared/")) {
      for (const target of imports) {
        if (!target.startsWith("src/shared/") && target.startsWith("src/")) out.add(`shared-imports-feature ${file.path} -> ${target}`);
      }
    }
    if (!feature) {
      // The app and shared code reach tables only through the features' stores.
      for (const table of tablesNamed(file.text)) out.add(`sql-outside-store ${file.path} -> ${table}`);
      continue;
    }
    for (const target of imports) {
      const other = featureOf(target);
      if (other && other !== feature) {
        if (!edges.has(feature)) edges.set(feature, new Set());
        edges.get(feature)!.add(other);
      }
    }
    for (const table of tablesNamed(file.text)) {
      if (TABLE_OWNERS[table] !== feature) out.add(`foreign-table ${file.path} -> ${table} (${TABLE_OWNERS[table]})`);
      else if (!isStoreFile(file.path)) out.add(`sql-outside-store ${file.path} -> ${table}`);
    }
  }
  for (const cycle of featureCycles(edges)) out.add(`feature-cycle ${cycle.join(" -> ")}`);
  return [...out].sort();
}

/** Every .ts file under src/, read from `root`. */
export function sourceFiles(root: string): SourceFile[] {
  const files: SourceFile[] = [];
  const visit = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) visit(full);
      else if (name.endsWith(".ts")) files.push({ path: relative(root, full).replace(/\\/g, "/"), text: readFileSync(full, "utf8") });
    }
  };
  visit(join(root, "src"));
  return files;
}

export const BASELINE_PATH = "scripts/boundaries.baseline.txt";

/**
 * `npm run lint`'s boundary step: fails on any finding not in the baseline, and on any baseline
 * line no longer found (the baseline only shrinks, as the features get their stores).
 */
function main(): number {
  const root = resolve(__dirname, "..", "..");
  const now = findings(sourceFiles(root));
  const baseline = readFileSync(join(root, BASELINE_PATH), "utf8")
    .split("\n")
    .filter((line) => line && !line.startsWith("#"));
  const added = now.filter((f) => !baseline.includes(f));
  const gone = baseline.filter((f) => !now.includes(f));
  for (const f of added) console.error(`new boundary break: ${f}`);
  for (const f of gone) console.error(`fixed, remove it from ${BASELINE_PATH}: ${f}`);
  if (!added.length && !gone.length) console.log(`boundaries: ${now.length} known breaks (${BASELINE_PATH}), none new`);
  return added.length || gone.length ? 1 : 0;
}

if (require.main === module) process.exit(main());
