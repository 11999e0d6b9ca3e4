import { startTracing } from "./shared/tracing-sdk";

/**
 * Imported first by main.ts, before anything requires http or pg: the instrumentations patch
 * those modules as they load. Off unless OTEL_* variables configure an exporter.
 */
export const tracing = startTracing();
