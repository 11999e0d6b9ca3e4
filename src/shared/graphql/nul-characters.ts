import type { ApolloServerPlugin } from "@apollo/server";
import { BREAK, visit, type DocumentNode } from "graphql";
import { BadUserInputError } from "../errors";

/** Whether a string anywhere in `value` (variables, JSON values) holds U+0000. */
export function containsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === "object") return Object.entries(value).some(([key, item]) => key.includes("\u0000") || containsNul(item));
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

/**
 * PostgreSQL stores no U+0000 in text or jsonb: such an input failed at the database, as an
 * INTERNAL_SERVER_ERROR (the fuzz test found it). It is refused before execution instead, with
 * BAD_USER_INPUT, and nothing is written.
 */
export function refuseNulCharacters(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          if (containsNul(request.variables) || documentContainsNul(document)) {
            throw new BadUserInputError("variables", "Text may not contain the NUL character (U+0000).");
          }
        },
      };
    },
  };
}
