import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CriticalityLevel, diff } from "@graphql-inspector/core";
import { buildSchema, printType, isEnumType, isInputObjectType, isInterfaceType, isObjectType, type GraphQLSchema } from "graphql";
import { allowedRoles } from "../../src/shared/auth/allow";
import { auditActionOf } from "../../src/shared/audit/audited";

/** The partner contract as vendored in this repository (a clone may not sit beside ../shared). */
export const CONTRACT_PATH = join(__dirname, "..", "..", "..", "schema", "contract.graphql");
/** The upstream spec, when this checkout sits beside it; the vendored copy must equal it. */
export const UPSTREAM_CONTRACT_PATH = join(__dirname, "..", "..", "..", "..", "shared", "spec", "contract.graphql");
export const SCHEMA_PATH = join(__dirname, "..", "..", "..", "schema", "schema.graphql");

export function loadContract(): GraphQLSchema {
  return buildSchema(readFileSync(CONTRACT_PATH, "utf8"));
}

/** Query and Mutation fields that declare no roles, and Mutation fields that name no audit action. */
export function unguardedRootFields(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  for (const type of [schema.getQueryType(), schema.getMutationType()]) {
    for (const field of Object.values(type?.getFields() ?? {})) {
      if (!allowedRoles(field)?.length) missing.push(`${type!.name}.${field.name}: no roles`);
      if (type === schema.getMutationType() && !auditActionOf(field)) missing.push(`${type!.name}.${field.name}: no audit action`);
    }
  }
  return missing;
}

/** Types, fields, arguments, input fields and enum values without a description, and root fields whose description names no roles (partners read them). */
export function undescribed(schema: GraphQLSchema): string[] {
  const rootsWithoutRoles = [schema.getQueryType(), schema.getMutationType()].flatMap((root) =>
    Object.values(root?.getFields() ?? {})
      .filter((field) => !/\n\nRoles: [A-Z_]+(, [A-Z_]+)*\.$/.test(field.description ?? ""))
      .map((field) => `${root!.name}.${field.name} names no roles`),
  );
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith("__") || ["String", "Boolean", "Int", "Float", "ID"].includes(type.name)) continue;
    if (!type.description) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (!field.description) missing.push(`${type.name}.${field.name}`);
        for (const arg of "args" in field ? field.args : []) if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
      }
    }
    if (isEnumType(type)) {
      for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
    }
  }
  return [...missing, ...rootsWithoutRoles];
}

/**
 * Contract items later issues build. A breaking change is accepted only on these paths, and
 * each must really be absent (a test checks), so an item leaves this list when it is built.
 */
export const PENDING_CONTRACT_ITEMS: readonly string[] = [];

function isPending(path: string | undefined): boolean {
  return !!path && PENDING_CONTRACT_ITEMS.some((p) => path === p || path.startsWith(`${p}.`));
}

/** Breaking changes from the contract to the schema, outside the items still pending. */
export async function contractBreaks(contract: GraphQLSchema, emitted: GraphQLSchema): Promise<string[]> {
  const changes = await diff(contract, emitted);
  return changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking && !isPending(c.path)).map((c) => `${c.type} ${c.path ?? ""}: ${c.message}`);
}

/** Pending items the schema already has: they must leave the pending list. */
export function pendingButPresent(emitted: GraphQLSchema): string[] {
  return PENDING_CONTRACT_ITEMS.filter((p) => {
    const [typeName, fieldName] = p.split(".");
    const type = emitted.getType(typeName);
    if (!fieldName) return !!type;
    return !!type && (isObjectType(type) || isInterfaceType(type)) && !!type.getFields()[fieldName];
  });
}

/** The next contract (schema/contract-next.graphql) over the current one: the API the open work adds, as outside clients expect it. */
export function loadNextContract(emitted: GraphQLSchema): GraphQLSchema {
  const read = (name: string) => readFileSync(join(__dirname, "..", "..", "..", "schema", name), "utf8");
  let sdl = `${read("contract.graphql")}\n${read("contract-next.graphql")}`;
  // Types it names as "defined in the service's schema already" come from the service's schema.
  for (;;) {
    try {
      return buildSchema(sdl);
    } catch (error) {
      const missing = /Unknown type "(\w+)"/.exec(String((error as Error).message))?.[1];
      const type = missing && emitted.getType(missing);
      if (!type) throw error;
      sdl += `\n${printType(type)}`;
    }
  }
}

/** Breaking changes from the next contract to the schema, within `built` (type names, or Type.field paths). */
export async function nextContractBreaks(emitted: GraphQLSchema, built: readonly string[]): Promise<string[]> {
  const changes = await diff(loadNextContract(emitted), emitted);
  const within = (path: string | undefined) => !!path && built.some((b) => path === b || path.startsWith(`${b}.`));
  return changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking && within(c.path)).map((c) => `${c.type} ${c.path ?? ""}: ${c.message}`);
}
