import type { ApolloServerPlugin } from "@apollo/server";
import { BREAK, coerceInputValue, isInputType, typeFromAST, visit, type DocumentNode, type OperationDefinitionNode, type GraphQLSchema } from "graphql";
import { BadUserInputError } from "../errors";

/**
 * What a request's variables may be, checked before anything walks them: the count first (a
 * body of 450,000 unused keys blocked the event loop for seconds while it was walked), then
 * each variable's nesting and text, in one walk that keeps its own stack (a value nested 10,000
 * levels deep overflowed the call stack of a recursive walk).
 */
export const VARIABLE_LIMITS = {
  /** Variables per request: no operation of the schema declares more than a handful. */
  count: 100,
  /** Nesting of one variable's value: an input object holding a record value (itself at most 32) fits with room. */
  depth: 40,
} as const;

export const TOO_MANY_VARIABLES = `A request may carry at most ${VARIABLE_LIMITS.count} variables.`;

export type JsonProblem = "TOO_DEEP" | "NUL" | "LONE_SURROGATE" | "INEXACT_NUMBER";

/** A high surrogate without a low one after it, or a low one without a high one before it (in code units). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with a text PostgreSQL would not store as sent (no NUL; UTF-8 has no lone surrogates). */
export function textProblem(text: string): "NUL" | "LONE_SURROGATE" | null {
  if (text.includes("\u0000")) return "NUL";
  return LONE_SURROGATE.test(text) ? "LONE_SURROGATE" : null;
}

/**
 * The first problem of a JSON value, or null: nested deeper than `maxDepth` (a scalar at the top
 * is depth 0, `{}` and `[]` are 1); a string or key that cannot be stored as sent (U+0000, a lone
 * surrogate, which would come back as U+FFFD); a number that would not come back as sent (1e400
 * parses to Infinity and is stored as null; whole numbers beyond 2^53 have already lost digits).
 * Iterative, so no depth can overflow the stack.
 */
export function jsonProblem(value: unknown, maxDepth: number): JsonProblem | null {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item === "string") {
      const problem = textProblem(item);
      if (problem) return problem;
      continue;
    }
    if (typeof item === "number") {
      if (!Number.isFinite(item) || (Number.isInteger(item) && !Number.isSafeInteger(item))) return "INEXACT_NUMBER";
      continue;
    }
    if (item === null || typeof item !== "object") continue;
    if (depth + 1 > maxDepth) return "TOO_DEEP";
    if (Array.isArray(item)) {
      for (const element of item) stack.push([element, depth + 1]);
    } else {
      for (const [key, element] of Object.entries(item)) {
        const problem = textProblem(key);
        if (problem) return problem;
        stack.push([element, depth + 1]);
      }
    }
  }
  return null;
}

/** What each problem means to the client; no message repeats the value. */
export const JSON_PROBLEM_MESSAGES: Record<JsonProblem, string> = {
  TOO_DEEP: "is nested too deeply",
  NUL: "may not contain the NUL character (U+0000)",
  LONE_SURROGATE: "must be well-formed Unicode: a lone surrogate (U+D800 to U+DFFF without its pair) cannot be stored as sent",
  INEXACT_NUMBER: "may hold only finite numbers, whole ones within ±9007199254740991 (2^53 - 1), so they are stored exactly; send larger ones as strings",
};

/** Whether an object has more than `limit` own keys, without listing them all. */
export function hasMoreKeysThan(object: object, limit: number): boolean {
  let count = 0;
  for (const key in object) {
    if (Object.hasOwn(object, key) && ++count > limit) return true;
  }
  return false;
}

/** The first problem of the document's string literals (its numbers are parsed by the fields that take them). */
function documentTextProblem(document: DocumentNode): "NUL" | "LONE_SURROGATE" | null {
  let found: "NUL" | "LONE_SURROGATE" | null = null;
  visit(document, {
    StringValue(node) {
      found = textProblem(node.value);
      return found ? BREAK : undefined;
    },
  });
  return found;
}

/**
 * The path of the first part of a variable that does not fit its declared type, as graphql-js
 * writes it ("input.records[0].category"), or null. Found by coercing, not read back from
 * graphql-js's message: that message prints the value first, and a value key shaped like
 * ` at "…"; ` once steered the message's reader into naming it as the field.
 */
export function firstInvalidPath(schema: GraphQLSchema, operation: OperationDefinitionNode | undefined, variables: Record<string, unknown>): string | null {
  for (const definition of operation?.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    // A variable not sent is graphql-js's to report (its message names no value).
    if (!Object.hasOwn(variables, name)) continue;
    const type = typeFromAST(schema, definition.type);
    if (!type || !isInputType(type)) continue;
    let invalid: string | null = null;
    coerceInputValue(variables[name], type, (path) => {
      invalid ??= name + path.map((step) => (typeof step === "number" ? `[${step}]` : `.${step}`)).join("");
    });
    if (invalid) return invalid;
  }
  return null;
}

/** The refusal of a variable that does not fit its type, naming the path coercion found. */
export function invalidVariableError(path: string): BadUserInputError {
  const name = path.split(/[.[]/)[0];
  return new BadUserInputError(path, `Variable "$${name}" has an invalid value${path === name ? "" : ` at "${path}"`}.`);
}

/**
 * Refuses, with BAD_USER_INPUT and before execution, variables beyond VARIABLE_LIMITS and input
 * that would not be stored as sent (see jsonProblem): U+0000 failed at the database as an
 * INTERNAL_SERVER_ERROR, a lone surrogate became U+FFFD (two idempotency keys could collide),
 * 1e400 became null. Nothing is written.
 */
export function variableLimits(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operation }) {
          const variables = request.variables ?? {};
          if (hasMoreKeysThan(variables, VARIABLE_LIMITS.count)) {
            throw new BadUserInputError("variables", TOO_MANY_VARIABLES);
          }
          // A variable the operation declares is named; any other key is the client's text, never echoed.
          const declared = new Set(operation?.variableDefinitions?.map((d) => d.variable.name.value));
          for (const [name, value] of Object.entries(variables)) {
            const problem = jsonProblem(value, VARIABLE_LIMITS.depth);
            if (!problem) continue;
            const field = declared.has(name) ? name : "variables";
            const which = declared.has(name) ? `Variable "$${name}"` : "A variable the operation does not declare";
            const what = problem === "TOO_DEEP" ? `is nested deeper than ${VARIABLE_LIMITS.depth} levels` : JSON_PROBLEM_MESSAGES[problem];
            throw new BadUserInputError(field, `${which} ${what}.`);
          }
          const literal = documentTextProblem(document);
          if (literal) throw new BadUserInputError("query", `A string in the document ${JSON_PROBLEM_MESSAGES[literal]}.`);
        },
      };
    },
  };
}
