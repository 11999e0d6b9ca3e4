import { isObjectType, type GraphQLSchema } from "graphql";
import { answerLeftValuesFirst, type ResolveTree } from "./lookahead";

/**
 * What a parent's statement fetches for one of its fields (look-ahead): a dashboard of N tenants
 * with their records is one SQL statement whatever N and the page sizes.
 */
export interface ParentJoin<C, P> {
  /** A scalar SQL expression over the parent's row (JSON); `bind` adds a parameter and returns its placeholder. */
  sql(bind: (value: unknown) => string): string;
  /** Hands one parent's value of that expression to the field's resolver (leaveFor). */
  attach(ctx: C, parent: P, value: unknown): void;
}

/** Plans a join for one selection of the field, or null to leave the field to its own resolver. */
export type JoinPlanner<C, P> = (ctx: C, field: ResolveTree) => ParentJoin<C, P> | null;

/** One field of the read path, declared once: where it is, who plans it, what it answers. */
export interface JoinedField<C, P> {
  parentType: string;
  field: string;
  plan: JoinPlanner<C, P>;
  /**
   * Fields below it whose values the planner's `attach` leaves too (a record's joined subject):
   * with the field itself, they answer what was left before their own resolver runs.
   */
  alsoAnswers?: ReadonlyArray<readonly [typeName: string, fieldName: string]>;
}

/**
 * The read path's registry: every field a parent's statement may fetch, named in one explicit
 * list (schema.ts) rather than registered by side effects. `install` checks each against the
 * schema (a renamed field fails the start, never silently loses its join) and makes the fields
 * answer what their parent left.
 */
export class JoinRegistry<C> {
  private readonly byParent = new Map<string, Map<string, JoinPlanner<C, unknown>>>();

  constructor(private readonly fields: ReadonlyArray<JoinedField<C, never>>) {
    for (const f of fields) {
      const planners = this.byParent.get(f.parentType) ?? new Map<string, JoinPlanner<C, unknown>>();
      if (planners.has(f.field)) throw new Error(`the read path declares ${f.parentType}.${f.field} twice`);
      planners.set(f.field, f.plan as JoinPlanner<C, unknown>);
      this.byParent.set(f.parentType, planners);
    }
  }

  /** The planner of `parentType.field`, if the read path joins it. */
  plannerOf<P>(parentType: string, field: string): JoinPlanner<C, P> | undefined {
    return this.byParent.get(parentType)?.get(field) as JoinPlanner<C, P> | undefined;
  }

  /** Wires the registry into a built schema, before the guard (which must run around the fields). */
  install(schema: GraphQLSchema): void {
    for (const f of this.fields) {
      const type = schema.getType(f.parentType);
      if (!isObjectType(type) || !type.getFields()[f.field]) throw new Error(`the read path joins ${f.parentType}.${f.field}, which the schema does not have`);
    }
    answerLeftValuesFirst(
      schema,
      this.fields.flatMap((f) => [[f.parentType, f.field] as const, ...(f.alsoAnswers ?? [])]),
    );
  }
}
