import type { GatewayExecutor, GatewayInterface } from "@apollo/server-gateway-interface";
import { getVariableValues } from "graphql/execution/values";
import { GraphQLError, printSchema, type DocumentNode, type ExecutionResult, type GraphQLSchema, type SourceLocation } from "graphql";
import { compileQuery, isCompiledQuery, type CompiledQuery } from "graphql-jit";
import { LRUCache } from "lru-cache";
import { inOperationSpan } from "../tracing";

/** Distinct operations kept compiled; the least recently used goes first beyond this. */
const MAX_COMPILED = 500;

/**
 * Executes operations with graphql-jit instead of graphql-js: each distinct operation is compiled
 * once into a function that resolves its fields without graphql-js's per-field bookkeeping (a
 * dashboard answer has about 2,900 fields: that bookkeeping was the largest part of the API's CPU
 * after garbage collection). Apollo still parses, validates and formats errors; only execution
 * moves. It plugs in through Apollo's one interface for another executor, the gateway's.
 */
export function compiledExecution(schema: GraphQLSchema): GatewayInterface {
  const compiled = new LRUCache<string, CompiledQuery | ExecutionResult>({ max: MAX_COMPILED });

  function compile(queryHash: string, document: DocumentNode, operationName: string | null): CompiledQuery | ExecutionResult {
    const key = `${operationName ?? ""}:${queryHash}`;
    let entry = compiled.get(key);
    if (!entry) compiled.set(key, (entry = compileQuery(schema, document, operationName ?? undefined)));
    return entry;
  }

  const executor: GatewayExecutor = (request) => inOperationSpan(request.operation, () => execute(request));

  const execute: GatewayExecutor = async (request) => {
    const query = compile(request.queryHash, request.document, request.operationName);
    if (!isCompiledQuery(query)) return asGraphqlJsErrors(query);
    const variables = request.request.variables ?? {};
    const result = await query.query(undefined, request.context, variables);
    if (result.errors && result.data === undefined) {
      // Nothing ran: the variables did not fit their types. graphql-js words those errors as
      // Apollo recognises them (BAD_USER_INPUT, without the value): let it coerce them again.
      const coerced = getVariableValues(schema, request.operation.variableDefinitions ?? [], variables);
      if (coerced.errors) return { errors: coerced.errors };
    }
    return asGraphqlJsErrors(result);
  };

  return {
    async load() {
      return { executor };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return () => undefined;
    },
    async stop() {
      compiled.clear();
    },
  };
}

/**
 * graphql-jit's errors are not graphql-js's GraphQLError (their message is read-only, they have
 * no `nodes`): Apollo and its plugins expect graphql-js's, as graphql-js would have made them.
 */
function asGraphqlJsErrors(result: ExecutionResult): ExecutionResult {
  if (!result.errors) return result;
  const errors = result.errors.map((jit) => {
    const { path, extensions, originalError, locations } = jit as {
      path?: ReadonlyArray<string | number>;
      extensions?: Record<string, unknown>;
      originalError?: Error;
      locations?: SourceLocation[];
    };
    const error = new GraphQLError(jit.message, { path, extensions, originalError: originalError ?? undefined });
    // graphql-js derives locations from nodes, which graphql-jit does not keep: copy them.
    if (locations) (error as { locations?: readonly SourceLocation[] }).locations = locations;
    return error;
  });
  return { ...result, errors };
}
