import { IncomingMessage } from "node:http";
import type { Span } from "@opentelemetry/api";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { tracingStarted } from "./tracing";

/**
 * OpenTelemetry tracing, off unless the standard variables ask for it: an OTLP endpoint
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER=otlp;
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none keep it off. The exporter (OTLP over
 * HTTP) reads the rest of its OTEL_* settings itself. Spans: each HTTP request the server takes,
 * the GraphQL operation inside it (inOperationSpan), and PostgreSQL statements inside that, as
 * their SQL text only: parameters carry personal data and are never recorded, nor is a URL's
 * query string (a GET request's variables). Must run before http and pg are first required, so
 * the instrumentations can patch them: main.ts imports it first.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): { shutdown(): Promise<void> } | null {
  if (env.OTEL_SDK_DISABLED === "true" || env.OTEL_TRACES_EXPORTER === "none") return null;
  if (env.OTEL_TRACES_EXPORTER !== "otlp" && !env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return null;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || "custodian" }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  registerInstrumentations({
    instrumentations: [
      new HttpInstrumentation({
        // The service's own outgoing calls (a key set) are not traced; incoming requests are.
        ignoreOutgoingRequestHook: () => true,
        requestHook: (span, request) => {
          if (request instanceof IncomingMessage) withoutQueryString(span, request.url ?? "");
        },
      }),
      // Statements with a parent only (a request's), their text without their values.
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
    ],
  });
  tracingStarted();
  return { shutdown: () => provider.shutdown() };
}

/** A request's URL as the span records it: its path only (a GET request's query holds its variables). */
function withoutQueryString(span: Span, url: string): void {
  const path = url.split("?")[0];
  span.setAttribute("http.target", path);
  span.setAttribute("url.path", path);
  if (url.includes("?")) span.setAttribute("url.query", "[not recorded]");
  const full = (span as unknown as { attributes?: Record<string, unknown> }).attributes?.["http.url"];
  if (typeof full === "string") span.setAttribute("http.url", full.split("?")[0]);
}
