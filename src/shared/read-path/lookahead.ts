import { defaultFieldResolver, isObjectType, type GraphQLResolveInfo, type GraphQLSchema } from "graphql";
import { parseResolveInfo, type ResolveTree } from "graphql-parse-resolve-info";

export type { ResolveTree };

/**
 * Look-ahead on the selection set: a resolver that sees what its children will ask for can
 * fetch them in its own statement and leave the results on the parent objects, where the
 * children's fields take them instead of querying (answerLeftValuesFirst). Every child field's
 * guard still runs (its authorization); only the fetching moves up.
 */
export function selectionOf(info: GraphQLResolveInfo): ResolveTree | null {
  const tree = parseResolveInfo(info);
  return tree && "fieldsByTypeName" in tree ? (tree as ResolveTree) : null;
}

/** The fields selected on `typeName` under `tree`, by response key (alias). */
export function fieldsOn(tree: ResolveTree | undefined, typeName: string): Record<string, ResolveTree> {
  return tree?.fieldsByTypeName[typeName] ?? {};
}

/**
 * The fields selected on the nodes of a connection field (through `nodes` and `edges.node`),
 * by response key; null when one key is used twice with different arguments.
 */
export function connectionNodeFields(connection: ResolveTree, connectionType: string, edgeType: string, nodeType: string): Record<string, ResolveTree> | null {
  const fields = fieldsOn(connection, connectionType);
  const selected: ResolveTree[] = [];
  for (const field of Object.values(fields)) {
    if (field.name === "nodes") selected.push(...Object.values(fieldsOn(field, nodeType)));
    if (field.name === "edges") {
      for (const edgeField of Object.values(fieldsOn(field, edgeType))) {
        if (edgeField.name === "node") selected.push(...Object.values(fieldsOn(edgeField, nodeType)));
      }
    }
  }
  const byKey: Record<string, ResolveTree> = {};
  for (const field of selected) {
    const seen = byKey[field.alias];
    if (seen && (seen.name !== field.name || JSON.stringify(seen.args) !== JSON.stringify(field.args))) return null;
    byKey[field.alias] = seen ? mergeTrees(seen, field) : field;
  }
  return byKey;
}

/** Whether any of `names` is selected directly on `typeName` under `tree`. */
export function selects(tree: ResolveTree, typeName: string, ...names: string[]): boolean {
  return Object.values(fieldsOn(tree, typeName)).some((f) => names.includes(f.name));
}

function mergeTrees(a: ResolveTree, b: ResolveTree): ResolveTree {
  const fieldsByTypeName: ResolveTree["fieldsByTypeName"] = { ...a.fieldsByTypeName };
  for (const [type, fields] of Object.entries(b.fieldsByTypeName)) fieldsByTypeName[type] = { ...fieldsByTypeName[type], ...fields };
  return { ...a, fieldsByTypeName };
}

/** Where a parent's resolver leaves values for its fields: a symbol, so no resolver or JSON sees it. */
const LEFT = Symbol("left for fields");

type Parent = { [LEFT]?: Record<string, unknown> };

/** Leaves what the field `responseKey` of `parent` will answer, fetched ahead by a parent's resolver. */
export function leaveFor(parent: object, responseKey: string, value: unknown): void {
  ((parent as Parent)[LEFT] ??= Object.create(null) as Record<string, unknown>)[responseKey] = value;
}

/**
 * Makes the given fields answer what a parent's resolver left for them (leaveFor) before their
 * own resolver runs; the schema is changed in place. type-graphql's handling of a resolver's
 * parameters cost more than the rest of such a field, 420 times on a dashboard. A
 * parent leaves a value only for arguments its plan checked as the resolver's validation would
 * (tenant-record-pages), so skipping that validation changes no answer. Wrap before the guard
 * (guardFields), so that authorization still runs first.
 */
export function answerLeftValuesFirst(schema: GraphQLSchema, fields: ReadonlyArray<readonly [typeName: string, fieldName: string]>): void {
  for (const [typeName, fieldName] of fields) {
    const type = schema.getType(typeName);
    const field = isObjectType(type) ? type.getFields()[fieldName] : undefined;
    if (!field) throw new Error(`answerLeftValuesFirst: ${typeName}.${fieldName} is not in the schema`);
    const resolve = field.resolve ?? defaultFieldResolver;
    field.resolve = (parent, args, ctx, info) => {
      // What a parent's resolver left for this field's response key, if anything.
      const left = (parent as Parent)[LEFT]?.[String(info.path.key)];
      return left !== undefined ? left : resolve(parent, args, ctx, info);
    };
  }
}
