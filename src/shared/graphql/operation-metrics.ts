import type { ApolloServerPlugin } from "@apollo/server";
import { Kind, type OperationDefinitionNode } from "graphql";
import { pgErrorCode } from "../db/database";
import { errorCodeOf } from "../errors";
import { graphqlDuration, graphqlErrors, graphqlRequests, statementTimeouts } from "../metrics";

const PG_QUERY_CANCELED = "57014";

/** A resolved operation's root fields by their schema names (never aliases, which clients choose); a fragment there as "(fragment)". */
export function rootFieldNames(operation: OperationDefinitionNode): string[] {
  return [...new Set(operation.selectionSet.selections.map((selection) => (selection.kind === Kind.FIELD ? selection.name.value : "(fragment)")))];
}

/**
 * Counts and times each operation per root field, with its outcome (ok, or error when the answer
 * holds any error), and counts errors by the contract's code and statement timeouts. Labels come
 * only from the schema (a root field that does not exist fails validation first) and the contract.
 */
export function operationMetrics<C extends object>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      let failed = false;
      return {
        async didEncounterErrors({ errors }) {
          failed = true;
          for (const error of errors) {
            graphqlErrors.inc({ code: errorCodeOf(error) });
            if (pgErrorCode(error.originalError) === PG_QUERY_CANCELED) statementTimeouts.inc();
          }
        },
        async willSendResponse({ operation }) {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          const outcome = failed ? "error" : "ok";
          // Before validation the document may name anything: only a resolved operation's fields are labels.
          for (const root_field of operation ? rootFieldNames(operation) : ["(none)"]) {
            graphqlRequests.inc({ root_field, outcome });
            graphqlDuration.observe({ root_field, outcome }, seconds);
          }
        },
      };
    },
  };
}
