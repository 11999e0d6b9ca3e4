import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { OperationDefinitionNode } from "graphql";
import { rootFieldNames } from "./graphql/operation-metrics";

/**
 * Whether tracing runs. The SDK that starts it (tracing-sdk.ts) is loaded by the service's
 * entry point only: a process that never traces (the tests, the scripts) does not load it.
 */
let tracingOn = false;

/** Called by the SDK once it is started. */
export function tracingStarted(): void {
  tracingOn = true;
}

/**
 * Runs a GraphQL operation in a span of its own (the executor calls it), so its statements are
 * its children. Attributes come from the schema (the operation's type and root fields), never
 * from what a client chose (the operation's name) or sent (variables).
 */
export function inOperationSpan<T>(operation: OperationDefinitionNode, work: () => Promise<T>): Promise<T> {
  if (!tracingOn) return work();
  const tracer = trace.getTracer("custodian");
  const span = tracer.startSpan(`graphql ${operation.operation}`, {
    kind: SpanKind.INTERNAL,
    attributes: { "graphql.operation.type": operation.operation, "graphql.root_fields": rootFieldNames(operation) },
  });
  return context.with(trace.setSpan(context.active(), span), async () => {
    try {
      const result = await work();
      const errors = (result as { errors?: unknown[] } | undefined)?.errors;
      if (errors?.length) span.setStatus({ code: SpanStatusCode.ERROR });
      return result;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}
