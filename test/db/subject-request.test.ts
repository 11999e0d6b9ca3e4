import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { assertError, assertOk } from "../helpers/assertions";
import { consentedAgreement, createTenant, recordData, registerSubject } from "../helpers/factories";
import { lifecycleApp } from "../helpers/lifecycle";
import type { TestApp, roles } from "../helpers/app";

const REQUEST_FIELDS = `id status kind dataSubjectId receivedAt clockStartedAt dueAt originalDueAt extensionReason overdue completedAt rejectionReason
  recipientNotices { id kind recordId }`;
const OPEN = `mutation($input: OpenSubjectRequestInput!) { openSubjectRequest(input: $input) { ${REQUEST_FIELDS} } }`;
const step = (name: string, withReason = false) =>
  `mutation($id: ID!${withReason ? ", $reason: String!" : ""}) { ${name}(requestId: $id${withReason ? ", reason: $reason" : ""}) { ${REQUEST_FIELDS} } }`;
const GET = `query($id: ID!) { subjectRequest(id: $id) { ${REQUEST_FIELDS} dataSubject { id } } }`;
const EXPORT = `query($id: ID!, $onRequest: String) { exportDataSubject(id: $id, onRequest: $onRequest) { generatedAt } }`;
const SHARE = `mutation($input: ShareRecordsInput!) { shareRecords(input: $input) { id } }`;
const COMPLIANCE = `query($id: ID!) { tenant(id: $id) { complianceReport { openSubjectRequests overdueSubjectRequests } } }`;
const RUN = `mutation { runRetention { deadlineEventsRaised } }`;

/** Subject-rights requests (DOMAIN rules 29-33) and the events they raise (rule 28). */
describe("subject requests", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  let lifecycle: Awaited<ReturnType<typeof lifecycleApp>>;
  /** The tenant's events, oldest first, as the outbox holds them. */
  const events = async (tenantId: string, type?: string): Promise<Array<{ type: string; data: Record<string, unknown> }>> =>
    app.db.query(`SELECT type, data FROM event WHERE tenant_id = $1 AND ($2::text IS NULL OR type = $2) ORDER BY occurred_at, id`, [tenantId, type ?? null]);

  before(async () => {
    lifecycle = await lifecycleApp();
    ({ app, as } = lifecycle);
  });
  beforeEach(() => app.clock.reset());
  after(() => lifecycle.close());

  async function subjectOfNewTenant() {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    return { tenant, subject };
  }

  it("a subject opens one for itself, due one month from receipt (end of the due day, weekend moved), with its event", async () => {
    app.clock.set(new Date("2026-03-05T10:00:00.000Z"));
    const { tenant, subject } = await subjectOfNewTenant();
    const opened = assertOk(await as.asSubject(tenant.id, subject.id).gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS" } })).openSubjectRequest;
    assert.equal(opened.status, "OPEN");
    assert.equal(opened.receivedAt, "2026-03-05T10:00:00.000Z");
    assert.equal(opened.dueAt, "2026-04-06T23:59:59.999Z");
    assert.equal(opened.overdue, false);
    // One open request per kind; a subject gives no receipt time of its own.
    assertError(await as.asSubject(tenant.id, subject.id).gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS" } }), "INVALID_STATE");
    assertError(
      await as.asSubject(tenant.id, subject.id).gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ERASURE", receivedAt: "2026-03-01T00:00:00Z" } }),
      "BAD_USER_INPUT",
    );
    const [event] = await events(tenant.id, "SUBJECT_REQUEST_OPENED");
    assert.deepEqual(event.data, { requestId: opened.id, dataSubjectId: subject.id, kind: "ACCESS", status: "OPEN", dueAt: opened.dueAt });
    assert.equal((await events(tenant.id)).length, 1, "the refused attempts emitted nothing");
  });

  it("another tenant's request reads as null, its mutations NOT_FOUND; a subject sees only its own", async () => {
    const { tenant, subject } = await subjectOfNewTenant();
    const other = await subjectOfNewTenant();
    const opened = assertOk(await as.asTenantAdmin(tenant.id).gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ERASURE" } })).openSubjectRequest;
    assert.equal(assertOk(await as.asTenantAdmin(other.tenant.id).gql(GET, { id: opened.id })).subjectRequest, null);
    assertError(await as.asTenantAdmin(other.tenant.id).gql(step("rejectSubjectRequest", true), { id: opened.id, reason: "no" }), "NOT_FOUND");
    assertError(await as.asTenantAdmin(other.tenant.id).gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS" } }), "NOT_FOUND");
    const second = await registerSubject(app, tenant.id);
    assert.equal(assertOk(await as.asSubject(tenant.id, second.id).gql(GET, { id: opened.id })).subjectRequest, null);
    assert.equal(assertOk(await as.asAuditor(tenant.id).gql(GET, { id: opened.id })).subjectRequest.id, opened.id);
    assertError(await as.asIntegration(tenant.id).gql(GET, { id: opened.id }), "FORBIDDEN");
    assertError(await as.asSubject(tenant.id, subject.id).gql(step("completeSubjectRequest"), { id: opened.id }), "FORBIDDEN");
  });

  it("an administrator records one received earlier (never in the future); a late one is overdue and counted", async () => {
    app.clock.set(new Date("2026-06-10T12:00:00.000Z"));
    const { tenant, subject } = await subjectOfNewTenant();
    assertError(
      await as.asTenantAdmin(tenant.id).gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS", receivedAt: "2026-06-11T00:00:00Z" } }),
      "BAD_USER_INPUT",
    );
    const late = assertOk(
      await as.asTenantAdmin(tenant.id).gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS", receivedAt: "2026-01-31T09:00:00Z" } }),
    ).openSubjectRequest;
    assert.equal(late.dueAt, "2026-03-02T23:59:59.999Z");
    assert.equal(late.overdue, true);
    assert.deepEqual(assertOk(await as.asAuditor(tenant.id).gql(COMPLIANCE, { id: tenant.id })).tenant.complianceReport, {
      openSubjectRequests: 1,
      overdueSubjectRequests: 1,
    });
  });

  it("extends once with a reason, before the due date; identity restarts the clock and drops the extension", async () => {
    app.clock.set(new Date("2026-03-05T10:00:00.000Z"));
    const { tenant, subject } = await subjectOfNewTenant();
    const admin = as.asTenantAdmin(tenant.id);
    const { id } = assertOk(await admin.gql(OPEN, { input: { dataSubjectId: subject.id, kind: "RECTIFICATION" } })).openSubjectRequest;
    assertError(await admin.gql(step("extendSubjectRequest", true), { id, reason: "  " }), "BAD_USER_INPUT");
    const extended = assertOk(await admin.gql(step("extendSubjectRequest", true), { id, reason: "Many systems to search" })).extendSubjectRequest;
    assert.deepEqual(
      [extended.dueAt, extended.originalDueAt, extended.extensionReason],
      ["2026-06-05T23:59:59.999Z", "2026-04-06T23:59:59.999Z", "Many systems to search"],
    );
    assertError(await admin.gql(step("extendSubjectRequest", true), { id, reason: "again" }), "INVALID_STATE");
    const waiting = assertOk(await admin.gql(step("requestSubjectIdentity"), { id })).requestSubjectIdentity;
    assert.deepEqual([waiting.status, waiting.dueAt, waiting.clockStartedAt, waiting.originalDueAt], ["AWAITING_IDENTITY", null, null, null]);
    assertError(await admin.gql(step("requestSubjectIdentity"), { id }), "INVALID_STATE");
    assertError(await admin.gql(step("completeSubjectRequest"), { id }), "INVALID_STATE");
    assert.equal(assertOk(await as.asAuditor(tenant.id).gql(COMPLIANCE, { id: tenant.id })).tenant.complianceReport.openSubjectRequests, 1);
    app.clock.set(new Date("2026-11-30T08:00:00.000Z"));
    const confirmed = assertOk(await admin.gql(step("confirmSubjectIdentity"), { id })).confirmSubjectIdentity;
    assert.deepEqual(
      [confirmed.status, confirmed.clockStartedAt, confirmed.dueAt, confirmed.originalDueAt],
      ["OPEN", "2026-11-30T08:00:00.000Z", "2026-12-30T23:59:59.999Z", null],
    );
    const again = assertOk(await admin.gql(step("extendSubjectRequest", true), { id, reason: "Still searching" })).extendSubjectRequest;
    assert.equal(again.dueAt, "2027-03-01T23:59:59.999Z", "28 February 2027 is a Sunday");
    const types = (await events(tenant.id)).map((e) => e.type).sort();
    assert.deepEqual(types, ["SUBJECT_REQUEST_EXTENDED", "SUBJECT_REQUEST_EXTENDED", "SUBJECT_REQUEST_OPENED"]);
  });

  it("ACCESS completes only with an export made since the clock started; a refused completion emits nothing", async () => {
    const { tenant, subject } = await subjectOfNewTenant();
    const admin = as.asTenantAdmin(tenant.id);
    assertOk(await admin.gql(EXPORT, { id: subject.id, onRequest: "REQ-1" }));
    app.clock.set(new Date(app.clock.now().getTime() + 60_000));
    const { id } = assertOk(await admin.gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS" } })).openSubjectRequest;
    assertError(await admin.gql(step("completeSubjectRequest"), { id }), "INVALID_STATE");
    assert.deepEqual(await events(tenant.id, "SUBJECT_REQUEST_COMPLETED"), [], "rolled back: no event");
    app.clock.set(new Date(app.clock.now().getTime() + 60_000));
    assertOk(await as.asSubject(tenant.id, subject.id).gql(EXPORT, { id: subject.id }));
    const done = assertOk(await admin.gql(step("completeSubjectRequest"), { id })).completeSubjectRequest;
    assert.equal(done.status, "COMPLETED");
    assert.equal((await events(tenant.id, "SUBJECT_REQUEST_COMPLETED")).length, 1);
    assertError(await admin.gql(step("rejectSubjectRequest", true), { id, reason: "late" }), "INVALID_STATE");
  });

  it("ERASURE deletes the subject in the same transaction and lists the recipient notices it opened; the request outlives the subject", async () => {
    const { tenant, subject } = await subjectOfNewTenant();
    const admin = as.asTenantAdmin(tenant.id);
    const record = await recordData(app, tenant.id, subject.id);
    const { agreement } = await consentedAgreement(app, tenant.id);
    assertOk(await as.asIntegration(tenant.id).gql(SHARE, { input: { agreementId: agreement.id, recordIds: [record.id], purpose: "SUPPORT" } }));
    const { id } = assertOk(await admin.gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ERASURE" } })).openSubjectRequest;
    const done = assertOk(await admin.gql(step("completeSubjectRequest"), { id })).completeSubjectRequest;
    assert.deepEqual(
      done.recipientNotices.map((n: { kind: string; recordId: string }) => [n.kind, n.recordId]),
      [["ERASURE", record.id]],
    );
    const [row] = await app.db.query(`SELECT status FROM data_subject WHERE id = $1`, [subject.id]);
    assert.equal(row.status, "DELETED");
    const [notice] = await events(tenant.id, "RECIPIENT_NOTICE_OPENED");
    assert.deepEqual(notice.data, { agreementId: agreement.id, kind: "ERASURE", noticeIds: [done.recipientNotices[0].id], recordIds: [record.id] });
    // The subject's purge leaves the request as proof, naming the subject by id only.
    await app.db.query(`DELETE FROM personal_data_record WHERE tenant_id = $1`, [tenant.id]);
    await app.db.query(`DELETE FROM data_subject WHERE id = $1`, [subject.id]);
    const kept = assertOk(await admin.gql(GET, { id })).subjectRequest;
    assert.deepEqual([kept.dataSubjectId, kept.dataSubject], [subject.id, null]);
  });

  it("deadline events are raised once per due date, however many runs race, and again for a new due date", async () => {
    app.clock.set(new Date("2026-03-05T10:00:00.000Z"));
    const { tenant, subject } = await subjectOfNewTenant();
    const admin = as.asTenantAdmin(tenant.id);
    const { id } = assertOk(await admin.gql(OPEN, { input: { dataSubjectId: subject.id, kind: "PORTABILITY" } })).openSubjectRequest;
    app.clock.set(new Date("2026-03-31T00:00:00.000Z"));
    // (This file's other tenants' requests are in the same database: the counts are at least ours.)
    const dry = await lifecycle.engine().run({ dryRun: true });
    assert.ok(dry.deadlineEventsRaised >= 1);
    assert.deepEqual(await events(tenant.id, "SUBJECT_REQUEST_DUE_SOON"), [], "a dry run only counts");
    // Two instances' runs at once: each due date's event is raised by one of them.
    await Promise.all([lifecycle.engine().run({ dryRun: false }), lifecycle.engine().run({ dryRun: false })]);
    assert.equal((await events(tenant.id, "SUBJECT_REQUEST_DUE_SOON")).length, 1);
    app.clock.set(new Date("2026-04-07T00:00:00.000Z"));
    assert.ok(assertOk(await as.asOperator().gql(RUN)).runRetention.deadlineEventsRaised >= 1, "overdue");
    assert.equal(assertOk(await as.asOperator().gql(RUN)).runRetention.deadlineEventsRaised, 0, "each once");
    assert.deepEqual(
      (await events(tenant.id)).map((e) => e.type),
      ["SUBJECT_REQUEST_DUE_SOON", "SUBJECT_REQUEST_OVERDUE"],
      "one of each; the opening's event (5 March) was past its 30 days and purged by the run",
    );
    const [overdue] = await events(tenant.id, "SUBJECT_REQUEST_OVERDUE");
    assert.deepEqual(Object.keys(overdue.data).sort(), ["dataSubjectId", "dueAt", "kind", "requestId", "status"], "ids, states and times only");
    assert.equal(assertOk(await admin.gql(GET, { id })).subjectRequest.overdue, true);
  });
});
