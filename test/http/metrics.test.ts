import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type TestApp, principals, startTestApp } from "../helpers/app";
import { createTenant } from "../helpers/factories";

const METRICS_TOKEN = `metrics-${randomUUID()}`;

describe("/metrics", () => {
  let app: TestApp;
  const secrets: string[] = [];
  const responses: string[] = [];
  const base = () => app.server.url.replace(/\/graphql$/, "");
  const scrape = (authorization?: string) => fetch(`${base()}/metrics`, { headers: authorization ? { authorization } : {} });

  /** One operation over HTTP; its answer is kept, to show the probe finds the canaries where they belong. */
  async function gql(token: string, query: string, variables: Record<string, unknown> = {}) {
    const response = await fetch(app.server.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    responses.push(text);
    return JSON.parse(text);
  }

  before(async () => {
    app = await startTestApp({ config: { metricsToken: METRICS_TOKEN } });
    const tenant = await createTenant(app, { name: `Canary Corp ${randomUUID()}` });
    const admin = await app.token(principals.tenantAdmin(tenant.id));
    const integration = await app.token(principals.integration(tenant.id));
    const operator = await app.token(principals.operator());
    const externalId = `canary-ext-${randomUUID()}`;
    const displayName = `Canary Person ${randomUUID()}`;
    const email = `canary-${randomUUID()}@example.test`;
    const subject = await gql(admin, `mutation($i: RegisterDataSubjectInput!) { registerDataSubject(input: $i) { id externalId displayName } }`, {
      i: { tenantId: tenant.id, externalId, displayName },
    });
    const subjectId = subject.data.registerDataSubject.id;
    const record = await gql(integration, `mutation($i: RecordPersonalDataInput!) { recordPersonalData(input: $i) { id } }`, {
      i: { tenantId: tenant.id, dataSubjectId: subjectId, category: "CONTACT", purposes: ["SUPPORT"], value: { email } },
    });
    const recordId = record.data.recordPersonalData.id;
    await gql(admin, `query($id: ID!) { personalDataRecord(id: $id) { value(purpose: SUPPORT) } }`, { id: recordId });
    await gql(admin, `query($id: ID!) { personalDataRecord(id: $id) { value(purpose: MARKETING) } }`, { id: recordId });
    await gql(operator, `query($id: ID!) { tenant(id: $id) { id name } verifyAuditLog(tenantId: $id) { valid } }`, { id: tenant.id });
    await gql(admin, `mutation { runRetention { recordsPurged } }`);
    await gql(operator, `mutation { runRetention { recordsPurged } }`);
    secrets.push(tenant.id, tenant.name, subjectId, recordId, externalId, displayName, email, admin, integration, operator, METRICS_TOKEN);
  });
  after(() => app.close());

  it("answers only a scraper with METRICS_TOKEN as its bearer token", async () => {
    assert.equal((await scrape()).status, 401);
    assert.equal((await scrape(`Bearer ${METRICS_TOKEN}x`)).status, 401);
    assert.equal((await scrape(`Bearer ${await app.token(principals.operator())}`)).status, 401);
    const ok = await scrape(`Bearer ${METRICS_TOKEN}`);
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get("content-type") ?? "", /^text\/plain/);
  });

  it("has requests and durations by root field and outcome, errors by code, pools, retention, audit verifications, rate limits and the process", async () => {
    const text = await (await scrape(`Bearer ${METRICS_TOKEN}`)).text();
    for (const series of [
      'custodian_graphql_requests_total{root_field="registerDataSubject",outcome="ok"}',
      'custodian_graphql_requests_total{root_field="personalDataRecord",outcome="error"}',
      'custodian_graphql_request_duration_seconds_bucket{le="0.005",root_field="tenant",outcome="ok"}',
      'custodian_graphql_errors_total{code="PURPOSE_PROHIBITED"}',
      'custodian_graphql_errors_total{code="FORBIDDEN"}',
      'custodian_db_pool_connections{database="control",state="total"}',
      'custodian_db_pool_connections{database="EU",state="waiting"}',
      'custodian_retention_runs_total{database="EU",outcome="ok"}',
      'custodian_retention_purged_rows_total{database="EU",kind="records"}',
      'custodian_retention_last_success_timestamp_seconds{database="control"}',
      'custodian_audit_chain_verifications_total{result="valid"}',
      "# TYPE custodian_rate_limit_refusals_total counter",
      "# TYPE custodian_db_statement_timeouts_total counter",
      "custodian_process_cpu_user_seconds_total",
    ]) {
      assert.ok(text.includes(series), `missing ${series}`);
    }
  });

  it("holds no id, name, value, token or variable of the requests (which the answers do hold)", async () => {
    const text = await (await scrape(`Bearer ${METRICS_TOKEN}`)).text();
    const answers = responses.join("\n");
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `the metrics hold ${secret.slice(0, 12)}…`);
    }
    // The probe: the same search finds the data where it belongs.
    for (const secret of secrets.slice(0, 7)) assert.ok(answers.includes(secret), `the probe misses ${secret.slice(0, 12)}…`);
  });

  it("is absent without METRICS_TOKEN", async () => {
    const plain = await startTestApp();
    try {
      assert.equal(
        (await fetch(`${plain.server.url.replace(/\/graphql$/, "")}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status,
        404,
      );
    } finally {
      await plain.close();
    }
  });
});
