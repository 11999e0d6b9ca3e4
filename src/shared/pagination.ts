import { IsInt, IsOptional, Max, Min } from "class-validator";
import { ArgsType, Field, Int, ObjectType } from "type-graphql";
import type { EntityManager, ObjectLiteral, SelectQueryBuilder } from "typeorm";
import { DataLoader, type LoaderCache } from "./loaders";
import { BadUserInputError } from "./errors";
import { isUuid } from "./ids";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, defaultValue: DEFAULT_PAGE_SIZE, description: `Page size, 1..${MAX_PAGE_SIZE}.` })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  first?: number | null;

  @Field(() => String, { nullable: true, description: "The endCursor of the previous page; opaque." })
  @IsOptional()
  after?: string | null;
}

@ObjectType({ simpleResolvers: true, description: "Where a page ends and whether another follows." })
export class PageInfo {
  @Field({ description: "True when more items follow this page." })
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: "Cursor of the last item of this page; pass it as `after` for the next." })
  endCursor!: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  nodes: T[];
  pageInfo: PageInfo;
  /** A promise where counting waits until a query asks for it (keysetPage). */
  totalCount: number | Promise<number>;
}

type ClassOf<T> = new (...args: never[]) => T;

/** Declares `<Name>Connection` and `<Name>Edge` for a node type, Relay style. */
export function connectionTypes<T>(node: ClassOf<T>, name: string) {
  @ObjectType(`${name}Edge`, { simpleResolvers: true, description: `One ${name} in a page, with its cursor.` })
  class EdgeType {
    @Field({ description: "Opaque position of this item; pass as `after` to continue from it." })
    cursor!: string;

    @Field(() => node, { description: `The ${name}.` })
    node!: T;
  }

  @ObjectType(`${name}Connection`, { simpleResolvers: true, description: `A page of ${name} items in a stable order.` })
  class ConnectionType {
    @Field(() => [EdgeType], { description: "The items of this page, each with its cursor." })
    edges!: EdgeType[];

    @Field(() => [node], { description: "The items of this page." })
    nodes!: T[];

    @Field(() => PageInfo, { description: "Where this page ends." })
    pageInfo!: PageInfo;

    // Not simple: the count may be a promise (keysetPage), and graphql-jit awaits only what a
    // resolver returns, not a plain property's value.
    @Field(() => Int, { simple: false, description: "How many items there are in all, over every page." })
    totalCount!: number;
  }

  return { EdgeType, ConnectionType };
}

/** Cursors are opaque to clients: base64url over the keyset position. */
export function encodeCursor(position: readonly string[]): string {
  return Buffer.from(JSON.stringify(position), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string, arity: number): string[] {
  try {
    const position: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(position) && position.length === arity && position.every((p) => typeof p === "string")) {
      return position as string[];
    }
  } catch {
    // fall through
  }
  throw new BadUserInputError("after", "`after` is not a cursor this API issued; pass the endCursor of a previous page.");
}

export interface KeysetColumns {
  /** A timestamptz column, compared at the precision the service writes (milliseconds). */
  createdAt: string;
  /** The unique tiebreaker. */
  id: string;
}

/**
 * One page of a query ordered by (createdAt, id) ascending: stable under inserts, no offsets.
 * `map` turns each row into the node the schema exposes.
 */
export async function keysetPage<E extends ObjectLiteral, T>(
  query: SelectQueryBuilder<E>,
  args: PageArgs,
  columns: KeysetColumns,
  positionOf: (row: E) => [Date, string],
  map: (row: E) => T,
): Promise<Connection<T>> {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  const connection = pageOf(await pageQuery(query.clone(), args, columns).getMany(), first, 0, positionOf, map);
  // Counted only when the query asks for totalCount (its field resolves the promise): a count
  // scans every matching row, and a page of 100 values does not need it.
  let count: Promise<number> | undefined;
  Object.defineProperty(connection, "totalCount", { enumerable: true, get: () => (count ??= query.clone().getCount()) });
  return connection;
}

/** One parent's page of children (see parentPage). */
export interface ParentPageSpec<E extends ObjectLiteral, T> {
  /**
   * What tells this list apart from others in the request: the field and every argument that
   * shapes the query (page size, cursor, filters). Parents batched together share it.
   */
  key: string;
  parent: string;
  /** The children's query, scoped and filtered, without the parent condition, on `manager` (the request's). */
  query: SelectQueryBuilder<E>;
  manager: EntityManager;
  /** The SQL column naming a child's parent, e.g. `s.tenant_id`. */
  parentColumn: string;
  args: PageArgs;
  map: (row: E) => T;
}

/** Rows a parent page orders: by (created_at, id) of the query's alias. */
type Positioned = ObjectLiteral & { createdAt: Date; id: string };

/**
 * A keyset page of one parent's children, read for every parent of the request that asks for
 * the same list at once: two statements (each parent's page of ids, by an index scan per parent,
 * then their rows) and, when the query asks for totalCount, one count grouped by parent,
 * whatever the number of parents. A lone parent takes keysetPage's one statement.
 */
export function parentPage<E extends Positioned, T>(ctx: { loaders: LoaderCache }, spec: ParentPageSpec<E, T>): Promise<Connection<T>> {
  const loader = ctx.loaders.keyed(`page:${spec.key}`, () => new DataLoader<string, Connection<T>>((parents) => pagesOfParents(ctx, spec, [...parents])));
  return loader.load(spec.parent);
}

async function pagesOfParents<E extends Positioned, T>(ctx: { loaders: LoaderCache }, spec: ParentPageSpec<E, T>, parents: string[]): Promise<Connection<T>[]> {
  const { query, parentColumn, args } = spec;
  const columns = { createdAt: `${query.alias}.created_at`, id: `${query.alias}.id` };
  const positionOf = (row: E): [Date, string] => [row.createdAt, row.id];
  if (parents.length === 1) {
    return [await keysetPage(query.clone().andWhere(`${parentColumn} = :parentKey`, { parentKey: parents[0] }), args, columns, positionOf, spec.map)];
  }
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  // Each parent's page by its own index scan (LATERAL), the parents as one array parameter.
  const page = pageQuery(query.clone().select(columns.id, "id").andWhere(`${parentColumn} = parents.key`), args, columns);
  const [sql, params] = page.getQueryAndParameters();
  const picked: Array<{ id: string; parent: string }> = await spec.manager.query(
    `SELECT p.id, parents.key AS parent FROM unnest($${params.length + 1}::uuid[]) AS parents(key) CROSS JOIN LATERAL (${sql}) p`,
    [...params, parents],
  );
  const parentOf = new Map(picked.map((p) => [p.id, p.parent]));
  const rows = picked.length
    ? await query
        .clone()
        .andWhere(`${columns.id} IN (:...pickedIds)`, { pickedIds: picked.map((p) => p.id) })
        .getMany()
    : [];
  const byParent = new Map<string, E[]>(parents.map((p) => [p, []]));
  for (const row of rows) byParent.get(parentOf.get(positionOf(row)[1])!)!.push(row);
  const counts = ctx.loaders.keyed(`count:${spec.key}`, () => new DataLoader<string, number>((keys) => countsOfParents(spec, [...keys])));
  return parents.map((parent) => {
    const own = byParent.get(parent)!.sort((a, b) => comparePositions(positionOf(a), positionOf(b)));
    const connection = pageOf(own, first, 0, positionOf, spec.map);
    let count: Promise<number> | undefined;
    Object.defineProperty(connection, "totalCount", { enumerable: true, get: () => (count ??= counts.load(parent)) });
    return connection;
  });
}

async function countsOfParents<E extends Positioned, T>(spec: ParentPageSpec<E, T>, parents: string[]): Promise<number[]> {
  const rows: Array<{ parent: string; n: string }> = await spec.query
    .clone()
    .select(spec.parentColumn, "parent")
    .addSelect("count(*)", "n")
    .andWhere(`${spec.parentColumn} IN (:...parentKeys)`, { parentKeys: parents })
    .groupBy(spec.parentColumn)
    .getRawMany();
  const counts = new Map(rows.map((r) => [r.parent, Number(r.n)]));
  return parents.map((p) => counts.get(p) ?? 0);
}

function comparePositions([a, aId]: [Date, string], [b, bId]: [Date, string]): number {
  return a.getTime() - b.getTime() || (aId < bId ? -1 : aId > bId ? 1 : 0);
}

/** `query` in keyset order, after the cursor of `args`, limited to one row more than the page (which tells whether more follow). */
function pageQuery<E extends ObjectLiteral>(query: SelectQueryBuilder<E>, args: PageArgs, columns: KeysetColumns): SelectQueryBuilder<E> {
  query
    .orderBy(columns.createdAt, "ASC")
    .addOrderBy(columns.id, "ASC")
    .limit((args.first ?? DEFAULT_PAGE_SIZE) + 1);
  if (args.after) {
    const [at, id] = afterPosition(args.after);
    query.andWhere(`(${columns.createdAt}, ${columns.id}) > (:cursorAt, :cursorId)`, { cursorAt: at, cursorId: id });
  }
  return query;
}

/** The keyset position an `after` cursor names; BAD_USER_INPUT when this API did not issue it. */
export function afterPosition(after: string): [Date, string] {
  const [createdAt, id] = decodeCursor(after, 2);
  const at = new Date(createdAt);
  // The API issues cursors of real creation times; a forged year PostgreSQL cannot hold failed there.
  const year = at.getUTCFullYear();
  if (Number.isNaN(at.getTime()) || year < 1 || year > 9999 || !isUuid(id)) throw new BadUserInputError("after", "`after` is not a cursor this API issued.");
  return [at, id];
}

/**
 * A page from up to `first + 1` rows in keyset order (the extra row tells that more follow).
 * Edges and cursors are built only when a query asks for them: most ask for `nodes` alone.
 */
export function pageOf<E, T>(rows: E[], first: number, totalCount: number, positionOf: (row: E) => [Date, string], map: (row: E) => T): Connection<T> {
  const kept = rows.slice(0, first);
  const nodes = kept.map(map);
  const cursorAt = (i: number) => {
    const [createdAt, id] = positionOf(kept[i]);
    return encodeCursor([createdAt.toISOString(), id]);
  };
  let edges: Edge<T>[] | undefined;
  return {
    get edges() {
      return (edges ??= nodes.map((node, i) => ({ cursor: cursorAt(i), node })));
    },
    nodes,
    pageInfo: {
      hasNextPage: rows.length > first,
      get endCursor() {
        return kept.length ? cursorAt(kept.length - 1) : null;
      },
    },
    totalCount,
  };
}
