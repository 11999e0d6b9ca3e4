import type { ApolloServerPlugin } from "@apollo/server";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import { GraphQLError, type DocumentNode, type GraphQLField, type GraphQLSchema, type OperationDefinitionNode, type ValidationRule } from "graphql";
import { fieldExtensionsEstimator, getComplexity, simpleEstimator, type ComplexityEstimator } from "graphql-query-complexity";
import { ErrorCode } from "../errors";
import { firstInvalidPath, hasMoreKeysThan, invalidVariableError } from "./variable-limits";

/**
 * The limits every operation must fit, checked before execution (QUERY_TOO_COMPLEX). Chosen so
 * every query of the tests, the README and the benchmarks passes with room: the deepest
 * legitimate one (a record's subject's tenant) has depth 6, the largest a page of 500 values.
 */
export const QUERY_LIMITS = {
  /** Nesting of fields; introspection is exempt (its type chains are deep by design). */
  depth: 10,
  /** Aliased fields per operation. */
  aliases: 15,
  /** Directives per operation. */
  directives: 20,
  /** Lexical tokens per document (variables do not count). */
  tokens: 3000,
  /**
   * Estimated work: 1 per field, or what a field declares it carries (`complexity`: a value, an
   * export), times `first` for paged fields (their default when omitted).
   */
  cost: 10_000,
} as const;

/**
 * Depth, aliases and directives (graphql-armor validation rules); tokens are counted by graphql-js's own parser (`parseOptions`), whose refusal is
 * an ordinary parse error (armor's token plugin throws outside Apollo's error handling).
 */
export function armor(): { plugins: ApolloServerPlugin[]; validationRules: ValidationRule[]; parseOptions: { maxTokens: number } } {
  const { plugins, validationRules } = new ApolloArmor({
    maxDepth: { n: QUERY_LIMITS.depth, ignoreIntrospection: true },
    maxAliases: { n: QUERY_LIMITS.aliases },
    maxDirectives: { n: QUERY_LIMITS.directives },
    maxTokens: { enabled: false },
    costLimit: { enabled: false },
    // Suggestions are dropped from every message in production by format-error: armor's
    // masking covered field suggestions only and left a stray "?".
    blockFieldSuggestion: { enabled: false },
  }).protect();
  return { plugins, validationRules, parseOptions: { maxTokens: QUERY_LIMITS.tokens } };
}

/** The refusals of the limits above, as graphql-armor and graphql-js word them. */
const LIMIT_MESSAGES = [
  /^Syntax Error: (Query depth|Aliases|Directives) limit of \d+ exceeded, found \d+\.?$/,
  /^Syntax Error: Document contains more th(?:at|an) \d+ tokens\. Parsing aborted\.$/,
];

/** The client-facing text of a query-limit refusal, or null when the message is something else. */
export function queryLimitMessage(message: string): string | null {
  if (!LIMIT_MESSAGES.some((re) => re.test(message))) return null;
  return message.replace(/^Syntax Error: /, "Query too complex: ").replace("more that", "more than");
}

/** Paged fields cost their page size times what each item costs. */
const pageSizeEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  const first = (field as GraphQLField<unknown, unknown>).args.find((a) => a.name === "first");
  if (!first) return undefined;
  const size = typeof args.first === "number" ? args.first : typeof first.defaultValue === "number" ? first.defaultValue : 1;
  return 1 + Math.max(size, 1) * Math.max(childComplexity, 1);
};

export class QueryTooComplexError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: ErrorCode.QUERY_TOO_COMPLEX } });
  }
}

/** Costs remembered per parsed document (Apollo reuses it for the same text) and variables. */
const COSTS_PER_DOCUMENT = 100;

/** The key a cost is remembered by; null for large variables or ones with objects or lists (a batch of records is costed afresh). */
function costKey(operationName: string | null | undefined, variables: Record<string, unknown>): string | null {
  // Apollo runs the plugins' checks side by side: this one may see variables the variable limits
  // are about to refuse, so it looks at no more of them than it keeps.
  if (hasMoreKeysThan(variables, 20)) return null;
  const values = Object.values(variables);
  if (values.some((v) => v !== null && typeof v === "object")) return null;
  const key = `${operationName ?? ""}:${JSON.stringify(variables)}`;
  return key.length <= 1024 ? key : null;
}

/** An operation's estimated cost; refuses one whose cost cannot be computed, and variables that do not fit their types. */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode | undefined,
  variables: Record<string, unknown>,
): number {
  try {
    return getComplexity({
      schema,
      query: document,
      operationName: operation?.name?.value,
      variables,
      estimators: [pageSizeEstimator, fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
    });
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw new QueryTooComplexError("The operation's cost cannot be computed, so it is refused.");
    // Only now, on the refusal's path, is the offending variable coerced again for its path.
    const path = firstInvalidPath(schema, operation, variables);
    if (path) throw invalidVariableError(path);
    throw new GraphQLError(error.message, { extensions: { code: ErrorCode.BAD_USER_INPUT } });
  }
}

/** Refuses an operation over the cost limit (QUERY_TOO_COMPLEX). */
export function assertWithinCost(cost: number): void {
  if (cost > QUERY_LIMITS.cost) {
    throw new QueryTooComplexError(
      `The operation's estimated cost ${cost} exceeds the cost limit of ${QUERY_LIMITS.cost}; ask for smaller pages or fewer fields.`,
    );
  }
}

/**
 * The cost budget (graphql-query-complexity), with the request's variables, before execution.
 * An operation whose cost cannot be computed is refused, never let through: a directive given
 * null (`@skip(if: $s)` with `{"s": null}`) made the estimator throw and let a selection of
 * millions run. Variables that do not fit their types are refused here too, as graphql-js words
 * it (format-error drops the values from the message).
 * The cost of the same operation with the same variables is remembered: walking a dashboard's
 * selection cost 3% of the API's time per request.
 */
export function costLimit(schema: GraphQLSchema): ApolloServerPlugin {
  const costs = new WeakMap<DocumentNode, Map<string, number>>();
  const costOf = (document: DocumentNode, operation: OperationDefinitionNode | undefined, variables: Record<string, unknown>): number =>
    operationCost(schema, document, operation, variables);
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operationName, operation }) {
          const variables = request.variables ?? {};
          const key = costKey(operationName, variables);
          let known = costs.get(document);
          let cost = key === null ? undefined : known?.get(key);
          if (cost === undefined) {
            cost = costOf(document, operation, variables);
            if (key !== null) {
              if (!known) costs.set(document, (known = new Map()));
              if (known.size >= COSTS_PER_DOCUMENT) known.clear();
              known.set(key, cost);
            }
          }
          assertWithinCost(cost);
        },
      };
    },
  };
}
