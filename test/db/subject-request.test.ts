import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { assertError, assertOk } from "../helpers/assertions";
import { consentedAgreement, createTenant, recordData, registerSubject } from "../helpers/factories";
import { lifecycleApp } from "../helpers/lifecycle";
import { holdNextStatement } from "../helpers/statements";
import { LocalKeyProvider } from "../../src/modules/keys/envelope";
import { KeyRing } from "../../src/modules/keys/key-ring";
import { principals, startTestApp, TEST_MASTER_KEY, type TestApp, type roles } from "../helpers/app";

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

  it("an administrator records one received earlier (never in the future, never before the GDPR); a late one is overdue and counted", async () => {
    app.clock.set(new Date("2026-06-10T12:00:00.000Z"));
    const { tenant, subject } = await subjectOfNewTenant();
    for (const receivedAt of ["2026-06-11T00:00:00Z", "0050-03-05T10:00:00Z", "2018-05-24T23:59:59Z"])
      assertError(await as.asTenantAdmin(tenant.id).gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS", receivedAt } }), "BAD_USER_INPUT");
    assert.deepEqual(await events(tenant.id), [], "nothing recorded");
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

  it("seals extension and rejection reasons under the subject's key: no row holds their text, and the subject's purge takes them", async () => {
    const { tenant, subject } = await subjectOfNewTenant();
    const admin = as.asTenantAdmin(tenant.id);
    const canary = `CANARY-${randomUUID()}`;
    const extended = assertOk(await admin.gql(OPEN, { input: { dataSubjectId: subject.id, kind: "RECTIFICATION" } })).openSubjectRequest.id;
    const rejected = assertOk(await admin.gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS" } })).openSubjectRequest.id;
    assertOk(await admin.gql(step("extendSubjectRequest", true), { id: extended, reason: `Archive of ${canary} to search` }));
    assertOk(await admin.gql(step("rejectSubjectRequest", true), { id: rejected, reason: `${canary} could not prove who they are` }));
    // The probe: the reasons are there, read by the administrator and by the subject.
    const reasons = async (who = admin) => [
      assertOk(await who.gql(GET, { id: extended })).subjectRequest.extensionReason,
      assertOk(await who.gql(GET, { id: rejected })).subjectRequest.rejectionReason,
    ];
    assert.deepEqual(await reasons(), [`Archive of ${canary} to search`, `${canary} could not prove who they are`]);
    assert.deepEqual(await reasons(as.asSubject(tenant.id, subject.id)), await reasons());
    const rows = async () => JSON.stringify(await app.db.query(`SELECT r::text FROM subject_request r WHERE tenant_id = $1`, [tenant.id]));
    assert.ok(!(await rows()).includes(canary), "no row holds a reason's text");
    const subjectKey = async () => (await app.region().keystore!.query(`SELECT count(*)::int AS n FROM subject_key WHERE subject_id = $1`, [subject.id]))[0].n;
    assert.equal(await subjectKey(), 1);

    // The subject is deleted and purged: the requests stay as proof, their reasons gone with its key.
    assertOk(await admin.gql(`mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, { id: subject.id }));
    app.clock.set(new Date(app.clock.now().getTime() + 31 * 86_400_000));
    await lifecycle.engine().run({ dryRun: false });
    assert.equal(await subjectKey(), 0, "the subject's key was destroyed");
    assert.deepEqual(await reasons(), [null, null]);
    const kept = assertOk(await admin.gql(GET, { id: rejected })).subjectRequest;
    assert.deepEqual([kept.status, kept.dataSubjectId, kept.dataSubject], ["REJECTED", subject.id, null]);
  });

  it("a request whose subject was purged takes no reason and completes without an export: nothing about the subject is held", async () => {
    const { tenant, subject } = await subjectOfNewTenant();
    const admin = as.asTenantAdmin(tenant.id);
    const { id } = assertOk(await admin.gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS" } })).openSubjectRequest;
    // While the subject is there, ACCESS needs an export (the guard the purged case skips).
    assertError(await admin.gql(step("completeSubjectRequest"), { id }), "INVALID_STATE");
    assertOk(await admin.gql(`mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, { id: subject.id }));
    app.clock.set(new Date(app.clock.now().getTime() + 31 * 86_400_000));
    await lifecycle.engine().run({ dryRun: false });
    assert.equal((await app.db.query(`SELECT 1 FROM data_subject WHERE id = $1`, [subject.id])).length, 0, "purged");
    // A reason would be sealed under no key that goes with the subject: refused, nothing changed.
    const before = await app.db.query(`SELECT r::text FROM subject_request r WHERE id = $1`, [id]);
    assertError(await admin.gql(step("extendSubjectRequest", true), { id, reason: "More time" }), "INVALID_STATE");
    assertError(await admin.gql(step("rejectSubjectRequest", true), { id, reason: "Unfounded" }), "INVALID_STATE");
    assert.deepEqual(await app.db.query(`SELECT r::text FROM subject_request r WHERE id = $1`, [id]), before);
    assert.equal(
      (await app.region().keystore!.query(`SELECT count(*)::int AS n FROM subject_key WHERE subject_id = $1`, [subject.id]))[0].n,
      0,
      "no key made anew",
    );
    const done = assertOk(await admin.gql(step("completeSubjectRequest"), { id })).completeSubjectRequest;
    assert.equal(done.status, "COMPLETED");
  });

  it("a rejection racing its subject's purge: the purge waits, then takes the reason with the key; no key is made anew", async () => {
    const { tenant, subject } = await subjectOfNewTenant();
    const admin = as.asTenantAdmin(tenant.id);
    const { id } = assertOk(await admin.gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS" } })).openSubjectRequest;
    assertOk(await admin.gql(`mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, { id: subject.id }));
    app.clock.set(new Date(app.clock.now().getTime() + 31 * 86_400_000));
    // The rejection has found its subject there; the purge runs before it goes on.
    const gate = holdNextStatement(app.region().app, "FROM data_subject WHERE tenant_id = $1 AND id = ANY($2::uuid[])", "after");
    try {
      const rejecting = admin.gql(step("rejectSubjectRequest", true), { id, reason: "Unfounded" });
      await gate.reached;
      gate.restore();
      const purging = lifecycle.engine().run({ dryRun: false });
      // Until the purge waits on the subject the rejection holds (or, were it not held, has ended).
      let ended = false;
      const waiting = async () => {
        while (!ended) {
          // This file's region database has no other writer meanwhile: a lock wait there is the purge's.
          const [row] = await app.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
          if (row.n > 0) return;
          await new Promise((ok) => setTimeout(ok, 20));
        }
      };
      await Promise.race([purging.finally(() => (ended = true)), waiting()]);
      gate.release();
      assertOk(await rejecting);
      await purging;
    } finally {
      gate.restore();
      gate.release();
    }
    assert.equal((await app.db.query(`SELECT 1 FROM data_subject WHERE id = $1`, [subject.id])).length, 0, "purged");
    assert.equal((await app.region().keystore!.query(`SELECT count(*)::int AS n FROM subject_key WHERE subject_id = $1`, [subject.id]))[0].n, 0, "no key left");
    assert.deepEqual(assertOk(await admin.gql(GET, { id })).subjectRequest.rejectionReason, null);
  });

  it("a subject whose key is gone (a restored backup's row) takes no reason: DATA_SHREDDED, and no key is made for it", async () => {
    const { tenant, subject } = await subjectOfNewTenant();
    const { id } = assertOk(await as.asTenantAdmin(tenant.id).gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS" } })).openSubjectRequest;
    const keystore = app.region().keystore!;
    await keystore.query(`DELETE FROM subject_key WHERE subject_id = $1`, [subject.id]);
    // An instance that has not cached the key, as one serving a restored backup.
    const fresh = await startTestApp({ databaseUrl: lifecycle.databaseUrl, keys: new KeyRing(new LocalKeyProvider(TEST_MASTER_KEY)) });
    try {
      const before = await app.db.query(`SELECT r::text FROM subject_request r WHERE id = $1`, [id]);
      assertError(await fresh.as(principals.tenantAdmin(tenant.id)).gql(step("rejectSubjectRequest", true), { id, reason: "Unfounded" }), "DATA_SHREDDED");
      assert.deepEqual(await app.db.query(`SELECT r::text FROM subject_request r WHERE id = $1`, [id]), before, "nothing changed");
      assert.equal((await keystore.query(`SELECT count(*)::int AS n FROM subject_key WHERE subject_id = $1`, [subject.id]))[0].n, 0, "no key made anew");
    } finally {
      await fresh.close();
    }
  });

  it("reads each step's reasons as they are after it, also for steps of one operation", async () => {
    const { tenant, subject } = await subjectOfNewTenant();
    const admin = as.asTenantAdmin(tenant.id);
    const { id } = assertOk(await admin.gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS" } })).openSubjectRequest;
    const both = `mutation($id: ID!) {
      a: extendSubjectRequest(requestId: $id, reason: "More time") { status extensionReason rejectionReason }
      b: rejectSubjectRequest(requestId: $id, reason: "Unfounded") { status extensionReason rejectionReason }
    }`;
    assert.deepEqual(assertOk(await admin.gql(both, { id })), {
      a: { status: "OPEN", extensionReason: "More time", rejectionReason: null },
      b: { status: "REJECTED", extensionReason: "More time", rejectionReason: "Unfounded" },
    });
  });

  it("a reason moved to another request answers DATA_INTEGRITY_FAILURE for that field alone", async () => {
    const { tenant, subject } = await subjectOfNewTenant();
    const admin = as.asTenantAdmin(tenant.id);
    const first = assertOk(await admin.gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS" } })).openSubjectRequest.id;
    const second = assertOk(await admin.gql(OPEN, { input: { dataSubjectId: subject.id, kind: "PORTABILITY" } })).openSubjectRequest.id;
    assertOk(await admin.gql(step("rejectSubjectRequest", true), { id: first, reason: "first reason" }));
    assertOk(await admin.gql(step("rejectSubjectRequest", true), { id: second, reason: "second reason" }));
    await app.db.query(
      `UPDATE subject_request SET rejection_reason_sealed = (SELECT rejection_reason_sealed FROM subject_request WHERE id = $1) WHERE id = $2`,
      [first, second],
    );
    const read = await admin.gql(
      `query($a: ID!, $b: ID!) { a: subjectRequest(id: $a) { status rejectionReason } b: subjectRequest(id: $b) { status rejectionReason } }`,
      {
        a: first,
        b: second,
      },
    );
    assert.deepEqual(read.data?.a, { status: "REJECTED", rejectionReason: "first reason" });
    assert.deepEqual(read.data?.b, { status: "REJECTED", rejectionReason: null });
    assert.deepEqual(
      read.errors?.map((e) => [e.path?.join("."), e.extensions?.code]),
      [["b.rejectionReason", "DATA_INTEGRITY_FAILURE"]],
    );
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
