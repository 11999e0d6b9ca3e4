import type { ApolloServerPlugin } from "@apollo/server";
import { BREAK, visit, type DocumentNode } from "graphql";
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

export type JsonProblem = "TOO_DEEP" | "NUL";

/**
 * The first problem of a JSON value: nested deeper than `maxDepth` (a scalar at the top is
 * depth 0, `{}` and `[]` are 1) or U+0000 in a string or key, which PostgreSQL stores in neither
 * text nor jsonb. Null when there is none. Iterative, so no depth can overflow the stack.
 */
export function jsonProblem(value: unknown, maxDepth: number): JsonProblem | null {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item === "string") {
      if (item.includes("\u0000")) return "NUL";
      continue;
    }
    if (item === null || typeof item !== "object") continue;
    if (depth + 1 > maxDepth) return "TOO_DEEP";
    if (Array.isArray(item)) {
      for (const element of item) stack.push([element, depth + 1]);
    } else {
      for (const [key, element] of Object.entries(item)) {
        if (key.includes("\u0000")) return "NUL";
        stack.push([element, depth + 1]);
      }
    }
  }
  return null;
}

/** Whether an object has more than `limit` own keys, without listing them all. */
export function hasMoreKeysThan(object: object, limit: number): boolean {
  let count = 0;
  for (const key in object) {
    if (Object.hasOwn(object, key) && ++count > limit) return true;
  }
  return false;
}

function documentContainsNul(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    StringValue(node) {
      if (!node.value.includes("\u0000")) return undefined;
      found = true;
      return BREAK;
    },
  });
  return found;
}

const NUL_MESSAGE = "Text may not contain the NUL character (U+0000).";

/**
 * Refuses, with BAD_USER_INPUT and before execution, variables beyond VARIABLE_LIMITS and text
 * with U+0000 (it failed at the database as an INTERNAL_SERVER_ERROR). Nothing is written.
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
            throw new BadUserInputError(field, problem === "NUL" ? `${which}: ${NUL_MESSAGE}` : `${which} is nested deeper than ${VARIABLE_LIMITS.depth} levels.`);
          }
          if (documentContainsNul(document)) throw new BadUserInputError("query", NUL_MESSAGE);
        },
      };
    },
  };
}
