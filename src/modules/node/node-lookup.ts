import { isUuid } from "../../shared/ids";

/** Most ids one `nodes` call takes: each id may cost a lookup in every type's tables. */
export const MAX_NODE_IDS = 100;

/**
 * Finds the objects among `ids` of one type that the caller reaches through the API's other
 * fields (lower-case uuids in, objects out; absent ones are not found or out of scope).
 */
export type NodeSource<C> = (ctx: C, ids: readonly string[]) => Promise<ReadonlyArray<{ id: string }>>;

/** The distinct ids that can name an object (uuids, lower-cased); anything else names none. */
export function lookupIds(ids: readonly string[]): string[] {
  return [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
}

/** The answer in the order asked, one entry per id asked (repeats too), null where nothing was found. */
export function inAskedOrder<T extends { id: string }>(ids: readonly string[], found: readonly T[]): Array<T | null> {
  const byId = new Map<string, T>();
  // Ids are random uuids: one object per id. Should two types ever share one, the first source's wins.
  for (const object of found) if (!byId.has(object.id)) byId.set(object.id, object);
  return ids.map((id) => (isUuid(id) ? (byId.get(id.toLowerCase()) ?? null) : null));
}

/** Every source asked for every id, side by side; the objects found, in the sources' order. */
export async function findNodes<C, T extends { id: string }>(ctx: C, sources: ReadonlyArray<NodeSource<C>>, ids: readonly string[]): Promise<Array<T | null>> {
  const wanted = lookupIds(ids);
  if (!wanted.length) return ids.map(() => null);
  const found = await Promise.all(sources.map((source) => source(ctx, wanted)));
  return inAskedOrder(ids, found.flat() as T[]);
}
