import { timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * The process's Prometheus metrics (prom-client), served at /metrics. Every label comes from a
 * set the code or the schema bounds: root field names, the contract's error codes, outcomes,
 * database names (control and the storage locations). None carries an id, a token, a variable,
 * an operation name (clients choose those) or any value.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "custodian_" });

export const graphqlRequests = new Counter({
  name: "custodian_graphql_requests_total",
  help: "GraphQL operations by root field and outcome (ok: no error in the answer).",
  labelNames: ["root_field", "outcome"] as const,
  registers: [registry],
});

export const graphqlDuration = new Histogram({
  name: "custodian_graphql_request_duration_seconds",
  help: "Time from a GraphQL operation's start to its answer, by root field and outcome.",
  labelNames: ["root_field", "outcome"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const graphqlErrors = new Counter({
  name: "custodian_graphql_errors_total",
  help: "Errors in GraphQL answers, by the contract's error code.",
  labelNames: ["code"] as const,
  registers: [registry],
});

export const statementTimeouts = new Counter({
  name: "custodian_db_statement_timeouts_total",
  help: "Statements PostgreSQL cancelled at statement_timeout.",
  registers: [registry],
});

export const rateLimitRefusals = new Counter({
  name: "custodian_rate_limit_refusals_total",
  help: "Requests refused as RATE_LIMITED, by what limited them (requests per minute, or the principal's connection share).",
  labelNames: ["limit"] as const,
  registers: [registry],
});

export const retentionRuns = new Counter({
  name: "custodian_retention_runs_total",
  help: "Retention runs per database, by outcome.",
  labelNames: ["database", "outcome"] as const,
  registers: [registry],
});

export const retentionPurgedRows = new Counter({
  name: "custodian_retention_purged_rows_total",
  help: "Rows retention deleted, by database and kind.",
  labelNames: ["database", "kind"] as const,
  registers: [registry],
});

export const retentionDuration = new Histogram({
  name: "custodian_retention_run_duration_seconds",
  help: "How long a database's retention run took.",
  labelNames: ["database"] as const,
  buckets: [0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
  registers: [registry],
});

export const retentionLastSuccess = new Gauge({
  name: "custodian_retention_last_success_timestamp_seconds",
  help: "When a database's last retention run finished without error (Unix time).",
  labelNames: ["database"] as const,
  registers: [registry],
});

export const auditVerifications = new Counter({
  name: "custodian_audit_chain_verifications_total",
  help: "Audit chain verifications (a caller's, or retention's before it signs a checkpoint), by result.",
  labelNames: ["result"] as const,
  registers: [registry],
});

export const webhookAttempts = new Counter({
  name: "custodian_webhook_attempts_total",
  help: "Webhook delivery attempts, by outcome (ok, or the error class: TIMEOUT, CONNECTION, REDIRECT, REFUSED_ADDRESS, HTTP).",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

export const webhookFailures = new Counter({
  name: "custodian_webhook_deliveries_failed_total",
  help: "Webhook deliveries that failed for good (every scheduled attempt failed).",
  registers: [registry],
});

export const webhookLag = new Histogram({
  name: "custodian_webhook_delivery_lag_seconds",
  help: "From an event's commit to its first successful delivery (service clock).",
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 300, 3600],
  registers: [registry],
});

/** Reports the webhook queue (deliveries pending, due now) and disabled endpoints by database when scraped. */
export function watchWebhooks(read: () => Promise<Array<{ database: string; pending: number; due: number; disabledEndpoints: number }>>): void {
  for (const name of ["custodian_webhook_queue_depth", "custodian_webhook_endpoints_disabled"]) registry.removeSingleMetric(name);
  let latest: Promise<Awaited<ReturnType<typeof read>>> | null = null;
  // One read serves both gauges of a scrape.
  const once = () => (latest ??= read().finally(() => setImmediate(() => (latest = null))));
  new Gauge({
    name: "custodian_webhook_queue_depth",
    help: "Webhook deliveries waiting, by database and state (pending: any; due: their attempt time has come).",
    labelNames: ["database", "state"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await once().catch(() => [])) {
        this.set({ database: row.database, state: "pending" }, row.pending);
        this.set({ database: row.database, state: "due" }, row.due);
      }
    },
  });
  new Gauge({
    name: "custodian_webhook_endpoints_disabled",
    help: "Disabled webhook endpoints, by database.",
    labelNames: ["database"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await once().catch(() => [])) this.set({ database: row.database }, row.disabledEndpoints);
    },
  });
}

/** What each server of this process reports as its open subscriptions (a test may run two). */
const subscriptionCounts = new Set<() => number>();

/** Reports the GraphQL subscriptions open in this process when scraped; the returned function stops counting `open`. */
export function watchSubscriptions(open: () => number): () => void {
  subscriptionCounts.add(open);
  return () => void subscriptionCounts.delete(open);
}

new Gauge({
  name: "custodian_event_subscriptions",
  help: "GraphQL event subscriptions open in this process.",
  registers: [registry],
  collect() {
    let open = 0;
    for (const count of subscriptionCounts) open += count();
    this.set(open);
  },
});

/** A pool as pg-pool counts it. */
export interface PoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/** Reports each request pool's connections (total, idle, waiting) by database when scraped. */
export function watchPools(pools: () => Array<{ database: string; pool: PoolCounts | undefined }>): void {
  registry.removeSingleMetric("custodian_db_pool_connections");
  new Gauge({
    name: "custodian_db_pool_connections",
    help: "Request pool connections by database and state (total, idle, waiting: requests waiting for one).",
    labelNames: ["database", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { database, pool } of pools()) {
        if (!pool) continue;
        this.set({ database, state: "total" }, pool.totalCount);
        this.set({ database, state: "idle" }, pool.idleCount);
        this.set({ database, state: "waiting" }, pool.waitingCount);
      }
    },
  });
}

/**
 * GET /metrics for a scraper holding `token` as its bearer token (compared in constant time);
 * anything else gets 401. Mounted only when METRICS_TOKEN is set.
 */
export function metricsEndpoint(token: string): RequestHandler {
  const expected = Buffer.from(`Bearer ${token}`);
  return async (req, res) => {
    const given = Buffer.from(req.headers.authorization ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.status(401).setHeader("www-authenticate", 'Bearer realm="metrics"').json({ error: "METRICS_TOKEN is required" });
      return;
    }
    res.setHeader("content-type", registry.contentType);
    res.end(await registry.metrics());
  };
}
