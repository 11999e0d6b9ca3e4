import { isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from "graphql";
import { getMetadataStorage } from "type-graphql";
import { onTenant, type RequestContext } from "./context";

/** How to find the tenant of an object of a type whose objects live in their tenant's region. */
export type RegionTypes = Readonly<Record<string, (object: never) => string | null | undefined>>;

/**
 * Makes the field resolvers of region types run on their object's region: a Tenant's
 * `personalDataRecords`, a record's `subject`, an agreement's `transfers` read the tenant's
 * region database, whichever database the request started on (an operator's starts on control).
 * A tenant role's objects are all in its own region, where its request starts: those resolvers
 * run as they are, without a promise. Plain property fields are left alone; fields a parent's
 * statement already answered (the read path) are answered before this.
 */
export function routeFieldsToRegions(schema: GraphQLSchema, types: RegionTypes): void {
  const resolved = fieldResolverNames();
  for (const [typeName, tenantOf] of Object.entries(types)) {
    const type = schema.getType(typeName);
    if (!type || !isObjectType(type)) throw new Error(`region type ${typeName} is not an object type of the schema`);
    for (const field of Object.values(type.getFields())) {
      if (!field.resolve || !resolved.has(`${typeName}.${field.name}`)) continue;
      field.resolve = onRegionOf(tenantOf as (object: unknown) => string | null | undefined, field.resolve);
    }
  }
}

function onRegionOf(
  tenantOf: (object: unknown) => string | null | undefined,
  resolve: GraphQLFieldResolver<unknown, RequestContext>,
): GraphQLFieldResolver<unknown, RequestContext> {
  return (root, args, ctx, info) => {
    const tenantId = tenantOf(root);
    if (!tenantId || ctx.topology.knownLocation(tenantId) === ctx.database) return resolve(root, args, ctx, info);
    return onTenant(ctx, tenantId).then((on) => resolve(root, args, on, info));
  };
}

/** `Type.field` of every field type-graphql resolves with a method (@FieldResolver), not a property. */
function fieldResolverNames(): Set<string> {
  const storage = getMetadataStorage();
  const names = new Set<string>();
  for (const resolver of storage.fieldResolvers) {
    const target = resolver.getObjectType?.();
    const objectType = storage.objectTypes.find((o) => o.target === target);
    if (objectType) names.add(`${objectType.name}.${resolver.schemaName}`);
  }
  return names;
}
