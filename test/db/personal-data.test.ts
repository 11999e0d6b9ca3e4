import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Role } from "../../src/shared/auth/role";
import { type TestApp, otherRoles, roles, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { RECORD, createTenant, recordData, registerSubject } from "../helpers/factories";
import { countStatements } from "../helpers/statements";

const DAY = 86_400_000;
const READ = `query($id: ID!, $purpose: ProcessingPurpose!) { personalDataRecord(id: $id) { id value(purpose: $purpose) } }`;
const RECORD_FULL = `query($id: ID!) { personalDataRecord(id: $id) {
  id category purposes status deletionReason deletionRequestedAt purgeDueAt version createdAt updatedAt
  storageLocation { code } tenant { id } subject { id } } }`;
const BATCH = `mutation($input: RecordPersonalDataBatchInput!) { recordPersonalDataBatch(input: $input) { count recordIds } }`;
const CORRECT = `mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { id version updatedAt } }`;
const DELETE = `mutation($id: ID!) { deletePersonalData(id: $id) { id status deletionReason deletionRequestedAt purgeDueAt } }`;
const DELETE_SUBJECT = `mutation($id: ID!) { deleteDataSubject(id: $id) { id status deletedAt purgeDueAt } }`;
const EXPORT = `query($id: ID!, $onRequest: String) { exportDataSubject(id: $id, onRequest: $onRequest) { dataSubjectId generatedAt document } }`;

describe("personal data (rules 1-4, 6, 11-14)", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  const countRecords = async (tenantId: string): Promise<number> =>
    (await app.db.query("SELECT count(*)::int AS n FROM personal_data_record WHERE tenant_id = $1", [tenantId]))[0].n;
  const auditOf = (tenantId: string, action: string): Promise<Array<Record<string, any>>> =>
    app.db.query("SELECT * FROM audit_log WHERE tenant_id = $1 AND action = $2 ORDER BY chain_seq", [tenantId, action]);
  /** A tenant with one subject; `input` fields of a record of that subject. */
  async function setup(location = "EU") {
    const tenant = await createTenant(app, { storageLocationCode: location, retentionPolicy: { deletionGraceDays: 7 } });
    const subject = await registerSubject(app, tenant.id);
    const input = (extra: Record<string, unknown> = {}) => ({
      tenantId: tenant.id,
      dataSubjectId: subject.id,
      category: "CONTACT",
      purposes: ["SUPPORT"],
      value: { email: "a@example.test" },
      ...extra,
    });
    return { tenant, subject, input };
  }

  before(async () => {
    app = await startTestApp();
    as = roles(app);
  });
  after(() => app.close());

  describe("residency (rules 2, 3)", () => {
    it("stores a record in the tenant's location, and refuses another location with RESIDENCY_VIOLATION, writing nothing", async () => {
      const { tenant, input } = await setup("EU");
      const created = assertOk(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ storageLocationCode: "EU" }) })).recordPersonalData;
      const read = assertOk(await as.asTenantAdmin(tenant.id).gql(RECORD_FULL, { id: created.id })).personalDataRecord;
      assert.equal(read.storageLocation.code, "EU");
      assertError(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ storageLocationCode: "US" }) }), "RESIDENCY_VIOLATION", "storageLocationCode");
      assert.equal(await countRecords(tenant.id), 1);
      const [denied] = (await auditOf(tenant.id, "RECORD_CREATED")).filter((e) => e.outcome === "DENIED");
      assert.equal(denied.error_code, "RESIDENCY_VIOLATION");
    });

    it("is enforced by the database too: a row in another location is refused", async () => {
      const { tenant, subject } = await setup("EU");
      await assert.rejects(
        app.db.query(
          `INSERT INTO personal_data_record (id, tenant_id, data_subject_id, category, purposes, storage_location_code, value, created_at, updated_at)
           VALUES ($1, $2, $3, 'CONTACT', '{SUPPORT}', 'US', '{}', now(), now())`,
          [randomUUID(), tenant.id, subject.id],
        ),
        /foreign key/,
      );
    });
  });

  describe("purposes at collection (rule 11)", () => {
    it("needs at least one purpose, refuses PROFILING and MARKETING anywhere, and SUBJECT_ACCESS as declared", async () => {
      const { tenant, input } = await setup();
      const integration = as.asIntegration(tenant.id);
      assertError(await integration.gql(RECORD, { input: input({ purposes: [] }) }), "BAD_USER_INPUT", "purposes");
      assertError(await integration.gql(RECORD, { input: input({ purposes: ["SUPPORT", "PROFILING"] }) }), "PURPOSE_PROHIBITED", "purposes");
      assertError(await integration.gql(RECORD, { input: input({ purposes: ["MARKETING"] }) }), "PURPOSE_PROHIBITED", "purposes");
      assertError(await integration.gql(RECORD, { input: input({ purposes: ["SUBJECT_ACCESS"] }) }), "BAD_USER_INPUT", "purposes");
      assert.equal(await countRecords(tenant.id), 0);
      const denied = (await auditOf(tenant.id, "RECORD_CREATED")).map((e) => e.error_code);
      assert.deepEqual(denied, ["BAD_USER_INPUT", "PURPOSE_PROHIBITED", "PURPOSE_PROHIBITED", "BAD_USER_INPUT"], "every refused attempt is audited");
      const created = assertOk(
        await integration.gql(`mutation($input: RecordPersonalDataInput!) { recordPersonalData(input: $input) { purposes } }`, {
          input: input({ purposes: ["SECURITY", "SUPPORT", "SECURITY"] }),
        }),
      );
      assert.deepEqual(created.recordPersonalData.purposes, ["SUPPORT", "SECURITY"]);
    });

    it("refuses a source that is not a registered third party", async () => {
      const { tenant, input } = await setup();
      assertError(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ sourceThirdPartyId: randomUUID() }) }), "NOT_FOUND", "sourceThirdPartyId");
      assertError(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ sourceThirdPartyId: "apple" }) }), "BAD_USER_INPUT", "sourceThirdPartyId");
    });

    it("is for the tenant's administrator and integrations", async () => {
      const { tenant, input } = await setup();
      for (const p of otherRoles(tenant.id, [Role.TENANT_ADMIN, Role.INTEGRATION])) assertError(await app.as(p).gql(RECORD, { input: input() }), "FORBIDDEN");
      const other = await createTenant(app);
      assertError(await as.asIntegration(other.id).gql(RECORD, { input: input() }), "NOT_FOUND");
      assert.equal(await countRecords(tenant.id), 0);
    });

    it("needs a subject of the same tenant, not deleted", async () => {
      const { tenant, input } = await setup();
      const other = await setup();
      assertError(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ dataSubjectId: other.subject.id }) }), "NOT_FOUND", "dataSubjectId");
      const gone = await registerSubject(app, tenant.id);
      assertOk(await as.asTenantAdmin(tenant.id).gql(DELETE_SUBJECT, { id: gone.id }));
      assertError(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ dataSubjectId: gone.id }) }), "INVALID_STATE", "dataSubjectId");
    });
  });

  describe("values", () => {
    it("is a JSON object of at most 64 KiB serialized", async () => {
      const { tenant, input } = await setup();
      const fitting = { v: "x".repeat(64 * 1024 - 8) }; // {"v":"…"} is 8 bytes of syntax
      assert.equal(JSON.stringify(fitting).length, 64 * 1024);
      assertOk(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ value: fitting }) }));
      const result = await as.asIntegration(tenant.id).gql(RECORD, { input: input({ value: { v: "x".repeat(64 * 1024 - 7) } }) });
      assertError(result, "BAD_USER_INPUT", "value");
      assert.doesNotMatch(JSON.stringify(result), /xxxxxxxx/, "the value is not echoed");
      assertError(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ value: ["not", "an", "object"] }) }), "BAD_USER_INPUT");
      assert.equal(await countRecords(tenant.id), 1);
    });
  });

  describe("purpose-bound reads (rule 12)", () => {
    it("gives the value to the tenant's admin and integration for a declared purpose, and audits it", async () => {
      const { tenant, subject } = await setup();
      const record = await recordData(app, tenant.id, subject.id, { purposes: ["SUPPORT", "SECURITY"], value: { email: "x@example.test" } });
      const read = assertOk(await as.asTenantAdmin(tenant.id).gql(READ, { id: record.id, purpose: "SECURITY" }));
      assert.deepEqual(read.personalDataRecord.value, { email: "x@example.test" });
      assertOk(await as.asIntegration(tenant.id).gql(READ, { id: record.id, purpose: "SUPPORT" }));
      const entries = await auditOf(tenant.id, "RECORD_VALUE_READ");
      assert.deepEqual(
        entries.map((e) => [e.actor_role, e.purpose, e.outcome, e.target_id, e.details.recordIds]),
        [
          ["TENANT_ADMIN", "SECURITY", "ALLOWED", record.id, [record.id]],
          ["INTEGRATION", "SUPPORT", "ALLOWED", record.id, [record.id]],
        ],
      );
    });

    it("refuses a purpose the record was not collected for, and audits the refusal", async () => {
      const { tenant, subject } = await setup();
      const record = await recordData(app, tenant.id, subject.id, { purposes: ["SUPPORT"] });
      assertError(await as.asIntegration(tenant.id).gql(READ, { id: record.id, purpose: "SECURITY" }), "PURPOSE_NOT_PERMITTED");
      assertError(await as.asTenantAdmin(tenant.id).gql(READ, { id: record.id, purpose: "SUBJECT_ACCESS" }), "PURPOSE_NOT_PERMITTED");
      const [entry] = await auditOf(tenant.id, "RECORD_VALUE_READ");
      assert.deepEqual([entry.outcome, entry.error_code, entry.purpose], ["DENIED", "PURPOSE_NOT_PERMITTED", "SECURITY"]);
    });

    it("refuses PROFILING and MARKETING to everyone, and values to operators, auditors and partners", async () => {
      const { tenant, subject } = await setup();
      const record = await recordData(app, tenant.id, subject.id);
      for (const purpose of ["PROFILING", "MARKETING"]) {
        assertError(await as.asTenantAdmin(tenant.id).gql(READ, { id: record.id, purpose }), "PURPOSE_PROHIBITED");
        assertError(await as.asSubject(tenant.id, subject.id).gql(READ, { id: record.id, purpose }), "PURPOSE_PROHIBITED");
      }
      assertError(await as.asOperator().gql(READ, { id: record.id, purpose: "SUPPORT" }), "FORBIDDEN");
      assertError(await as.asAuditor(tenant.id).gql(READ, { id: record.id, purpose: "SUPPORT" }), "FORBIDDEN");
      assertError(await as.asPartner().gql(READ, { id: record.id, purpose: "SUPPORT" }), "FORBIDDEN");
      const codes = (await auditOf(tenant.id, "RECORD_VALUE_READ")).map((e) => `${e.actor_role}:${e.error_code}`);
      assert.deepEqual(codes, [
        "TENANT_ADMIN:PURPOSE_PROHIBITED",
        "DATA_SUBJECT:PURPOSE_PROHIBITED",
        "TENANT_ADMIN:PURPOSE_PROHIBITED",
        "DATA_SUBJECT:PURPOSE_PROHIBITED",
        "OPERATOR:FORBIDDEN",
        "AUDITOR:FORBIDDEN",
      ]);
    });

    it("lets a data subject read only its own records, only for SUBJECT_ACCESS", async () => {
      const { tenant, subject } = await setup();
      const mine = await recordData(app, tenant.id, subject.id, { value: { phone: "+31 6 0000 0000" } });
      const someoneElse = await registerSubject(app, tenant.id);
      const theirs = await recordData(app, tenant.id, someoneElse.id);
      const me = as.asSubject(tenant.id, subject.id);
      assert.deepEqual(assertOk(await me.gql(READ, { id: mine.id, purpose: "SUBJECT_ACCESS" })).personalDataRecord.value, { phone: "+31 6 0000 0000" });
      assertError(await me.gql(READ, { id: mine.id, purpose: "SUPPORT" }), "PURPOSE_NOT_PERMITTED");
      assert.equal(assertOk(await me.gql(READ, { id: theirs.id, purpose: "SUBJECT_ACCESS" })).personalDataRecord, null);
    });

    it("refuses to read a record pending deletion", async () => {
      const { tenant, subject } = await setup();
      const record = await recordData(app, tenant.id, subject.id);
      assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: record.id }));
      assertError(await as.asIntegration(tenant.id).gql(READ, { id: record.id, purpose: "SUPPORT" }), "RECORD_PENDING_DELETION");
      assertError(await as.asSubject(tenant.id, subject.id).gql(READ, { id: record.id, purpose: "SUBJECT_ACCESS" }), "RECORD_PENDING_DELETION");
    });

    // Two ways to a page: the tenant's own statement reads it (tenant(id): look-ahead), and the
    // records' own resolver reads it (a tenant reached through a record).
    const PAGES = [
      {
        name: "joined into tenant(id)",
        query: (fields: string, args = "first: 10") => `query($id: ID!) { tenant(id: $id) { personalDataRecords(${args}) { nodes { ${fields} } } } }`,
        nodes: (data: any) => data.tenant.personalDataRecords.nodes,
      },
      {
        name: "the records' own resolver",
        query: (fields: string, args = "first: 10") =>
          `query($rid: ID!) { personalDataRecord(id: $rid) { tenant { personalDataRecords(${args}) { nodes { ${fields} } } } } }`,
        nodes: (data: any) => data.personalDataRecord.tenant.personalDataRecords.nodes,
      },
    ];
    for (const via of PAGES) {
      it(`decides and audits a page's values as each record's own read does, with no statement of their own (${via.name})`, async () => {
        const { tenant, subject } = await setup();
        const records = [
          await recordData(app, tenant.id, subject.id, { purposes: ["SUPPORT"], value: { email: "page@example.test" } }),
          await recordData(app, tenant.id, subject.id, { purposes: ["SECURITY"], category: "DEVICE" }),
          await recordData(app, tenant.id, subject.id, { purposes: ["SUPPORT"], category: "DEVICE" }),
        ];
        assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: records[2].id }));
        const variables = { id: tenant.id, rid: records[0].id };
        const ids: string[] = via.nodes(assertOk(await as.asIntegration(tenant.id).gql(via.query("id"), variables))).map((n: any) => n.id);
        assert.deepEqual(new Set(ids), new Set(records.map((r) => r.id)));
        const audited = async (from: number) =>
          (await auditOf(tenant.id, "RECORD_VALUE_READ"))
            .slice(from)
            .flatMap((e) => e.details.recordIds.map((id: string) => `${id}:${e.actor_role}:${e.outcome}:${e.error_code}:${e.purpose}`))
            .sort();
        for (const caller of [as.asIntegration(tenant.id), as.asTenantAdmin(tenant.id), as.asAuditor(tenant.id)]) {
          const before = (await auditOf(tenant.id, "RECORD_VALUE_READ")).length;
          const viaPage = await countStatements(() => caller.gql(via.query("id value(purpose: SUPPORT)"), variables));
          assert.equal(viaPage.statements.filter((s) => /id = ANY/.test(s)).length, 0, "the page read the values' rows itself");
          const pageAudit = await audited(before);
          const middle = (await auditOf(tenant.id, "RECORD_VALUE_READ")).length;
          const own = [];
          for (const id of ids) own.push(await caller.gql(READ, { id, purpose: "SUPPORT" }));
          // The audit names every record's decision (graphql reports only some errors of a page
          // it had to null): the page decided each record as its own read does.
          assert.deepEqual(pageAudit, await audited(middle));
          assert.equal(pageAudit.length, ids.length);
          const ownCodes = new Set(own.map((result) => (result as any).errors?.[0]?.extensions.code));
          for (const error of (viaPage.result as any).errors ?? []) assert.ok(ownCodes.has(error.extensions.code), error.extensions.code);
        }
        // The value itself comes through the page, from the row it read ahead.
        const only = assertOk(
          await as.asIntegration(tenant.id).gql(via.query("id value(purpose: SUPPORT)", "first: 10, filter: { status: ACTIVE, category: CONTACT }"), variables),
        );
        assert.deepEqual(JSON.parse(JSON.stringify(via.nodes(only))), [{ id: records[0].id, value: { email: "page@example.test" } }]);
      });
    }

    it("writes one audit row for 500 values read for one purpose in one request", async () => {
      const { tenant, subject } = await setup();
      const items = Array.from({ length: 500 }, (_, i) => ({
        dataSubjectId: subject.id,
        category: "DEVICE",
        purposes: ["SERVICE_OPERATION"],
        value: { serial: `SN-${i}` },
      }));
      assertOk(await as.asIntegration(tenant.id).gql(BATCH, { input: { tenantId: tenant.id, records: items } }));
      const page = assertOk(
        await as
          .asIntegration(tenant.id)
          .gql(`query($id: ID!) { tenant(id: $id) { personalDataRecords(first: 500) { nodes { id value(purpose: SERVICE_OPERATION) } } } }`, { id: tenant.id }),
      ).tenant.personalDataRecords.nodes;
      assert.equal(page.length, 500);
      const entries = await auditOf(tenant.id, "RECORD_VALUE_READ");
      assert.equal(entries.length, 1);
      assert.equal(entries[0].details.recordIds.length, 500);
      assert.deepEqual(new Set(entries[0].details.recordIds), new Set(page.map((r: any) => r.id)));
    });
  });

  describe("batch ingest", () => {
    it("writes 1..1000 items in one transaction with one INSERT, returning ids in item order", async () => {
      const { tenant, subject } = await setup();
      const items = [0, 1, 2].map((i) => ({ dataSubjectId: subject.id, category: "DEVICE", purposes: ["SUPPORT"], value: { n: i } }));
      const { result, statements } = await countStatements(() => as.asIntegration(tenant.id).gql(BATCH, { input: { tenantId: tenant.id, records: items } }));
      const { recordIds, count } = assertOk(result).recordPersonalDataBatch;
      assert.equal(count, 3);
      assert.equal(statements.filter((s) => /INSERT INTO personal_data_record/.test(s)).length, 1, "one multi-row statement");
      for (const [i, id] of recordIds.entries()) {
        assert.deepEqual(assertOk(await as.asIntegration(tenant.id).gql(READ, { id, purpose: "SUPPORT" })).personalDataRecord.value, { n: i });
      }
    });

    it("refuses an empty batch and one of 1001 items", async () => {
      const { tenant, subject } = await setup();
      const item = { dataSubjectId: subject.id, category: "DEVICE", purposes: ["SUPPORT"], value: {} };
      assertError(await as.asIntegration(tenant.id).gql(BATCH, { input: { tenantId: tenant.id, records: [] } }), "BAD_USER_INPUT", "records");
      assertError(
        await as.asIntegration(tenant.id).gql(BATCH, { input: { tenantId: tenant.id, records: Array(1001).fill(item) } }),
        "BAD_USER_INPUT",
        "records",
      );
      assertOk(await as.asIntegration(tenant.id).gql(BATCH, { input: { tenantId: tenant.id, records: Array(1000).fill(item) } }));
      assert.equal(await countRecords(tenant.id), 1000);
    });

    it("writes nothing when one item fails, and names the first failing item's index", async () => {
      const { tenant, subject } = await setup();
      const ok = { dataSubjectId: subject.id, category: "DEVICE", purposes: ["SUPPORT"], value: {} };
      const cases: Array<[Record<string, unknown>, string, string]> = [
        [{ ...ok, purposes: ["MARKETING"] }, "PURPOSE_PROHIBITED", "records.2.purposes"],
        [{ ...ok, dataSubjectId: randomUUID() }, "NOT_FOUND", "dataSubjectId"],
        [{ ...ok, value: { v: "x".repeat(70_000) } }, "BAD_USER_INPUT", "records.2.value"],
      ];
      for (const [bad, code, field] of cases) {
        const result = await as.asIntegration(tenant.id).gql(BATCH, { input: { tenantId: tenant.id, records: [ok, ok, bad, bad, ok] } });
        assertError(result, code, field);
        assert.equal(result.errors![0].extensions.index, 2);
      }
      assert.equal(await countRecords(tenant.id), 0);
    });
  });

  describe("idempotency", () => {
    it("returns the first result for a replay with the same payload and writes nothing", async () => {
      const { tenant, input } = await setup();
      const key = `key-${randomUUID()}`;
      const first = assertOk(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ idempotencyKey: key }) })).recordPersonalData;
      const again = assertOk(
        await as.asIntegration(tenant.id).gql(RECORD, { input: input({ idempotencyKey: key, value: { email: "a@example.test" } }) }),
      ).recordPersonalData;
      assert.equal(again.id, first.id);
      assert.equal(await countRecords(tenant.id), 1);
    });

    it("refuses the key with another payload (IDEMPOTENCY_CONFLICT), also across the two mutations", async () => {
      const { tenant, subject, input } = await setup();
      const key = `key-${randomUUID()}`;
      assertOk(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ idempotencyKey: key }) }));
      assertError(
        await as.asIntegration(tenant.id).gql(RECORD, { input: input({ idempotencyKey: key, value: { email: "b@example.test" } }) }),
        "IDEMPOTENCY_CONFLICT",
      );
      const item = { dataSubjectId: subject.id, category: "CONTACT", purposes: ["SUPPORT"], value: { email: "a@example.test" } };
      assertError(
        await as.asIntegration(tenant.id).gql(BATCH, { input: { tenantId: tenant.id, records: [item], idempotencyKey: key } }),
        "IDEMPOTENCY_CONFLICT",
      );
      assert.equal(await countRecords(tenant.id), 1);
    });

    it("scopes keys to the tenant, and accepts keys of 1..255 characters", async () => {
      const a = await setup();
      const b = await setup();
      const key = `shared-${randomUUID()}`;
      assertOk(await as.asIntegration(a.tenant.id).gql(RECORD, { input: a.input({ idempotencyKey: key }) }));
      assertOk(await as.asIntegration(b.tenant.id).gql(RECORD, { input: b.input({ idempotencyKey: key, value: { other: true } }) }));
      assert.equal(await countRecords(b.tenant.id), 1);
      assertOk(await as.asIntegration(a.tenant.id).gql(RECORD, { input: a.input({ idempotencyKey: "k".repeat(255) }) }));
      assertError(await as.asIntegration(a.tenant.id).gql(RECORD, { input: a.input({ idempotencyKey: "k".repeat(256) }) }), "BAD_USER_INPUT", "idempotencyKey");
      assertError(await as.asIntegration(a.tenant.id).gql(RECORD, { input: a.input({ idempotencyKey: "" }) }), "BAD_USER_INPUT", "idempotencyKey");
    });

    it("keeps a key 24 hours: a replay within them is the first result, after them a new write", async () => {
      const { tenant, input } = await setup();
      const key = `key-${randomUUID()}`;
      const start = Date.now();
      try {
        app.clock.set(new Date(start));
        const first = assertOk(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ idempotencyKey: key }) })).recordPersonalData;
        app.clock.set(new Date(start + DAY - 1000));
        assert.equal(assertOk(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ idempotencyKey: key }) })).recordPersonalData.id, first.id);
        app.clock.set(new Date(start + DAY + 1000));
        assert.notEqual(assertOk(await as.asIntegration(tenant.id).gql(RECORD, { input: input({ idempotencyKey: key }) })).recordPersonalData.id, first.id);
      } finally {
        app.clock.reset();
      }
      assert.equal(await countRecords(tenant.id), 2);
    });

    it("writes once for concurrent requests with one key, single and batch", async () => {
      const { tenant, subject, input } = await setup();
      const key = `key-${randomUUID()}`;
      const results = await Promise.all(Array.from({ length: 8 }, () => as.asIntegration(tenant.id).gql(RECORD, { input: input({ idempotencyKey: key }) })));
      assert.equal(new Set(results.map((r) => assertOk(r).recordPersonalData.id)).size, 1);
      assert.equal(await countRecords(tenant.id), 1);
      const batchKey = `batch-${randomUUID()}`;
      const items = [1, 2].map((n) => ({ dataSubjectId: subject.id, category: "DEVICE", purposes: ["SUPPORT"], value: { n } }));
      const batches = await Promise.all(
        Array.from({ length: 8 }, () => as.asIntegration(tenant.id).gql(BATCH, { input: { tenantId: tenant.id, records: items, idempotencyKey: batchKey } })),
      );
      assert.equal(new Set(batches.map((r) => JSON.stringify(assertOk(r).recordPersonalDataBatch.recordIds))).size, 1);
      assert.equal(await countRecords(tenant.id), 3);
    });
  });

  describe("correction (rule 13)", () => {
    it("applies with the current version, and refuses a stale one with VERSION_CONFLICT, changing nothing", async () => {
      const { tenant, subject } = await setup();
      const record = await recordData(app, tenant.id, subject.id, { value: { email: "old@example.test", phone: "1" } });
      const corrected = assertOk(
        await as.asIntegration(tenant.id).gql(CORRECT, { input: { id: record.id, expectedVersion: 1, value: { email: "new@example.test", name: "N" } } }),
      );
      assert.equal(corrected.correctPersonalData.version, 2);
      assertError(
        await as.asIntegration(tenant.id).gql(CORRECT, { input: { id: record.id, expectedVersion: 1, value: { email: "stale@example.test" } } }),
        "VERSION_CONFLICT",
        "expectedVersion",
      );
      assert.deepEqual(assertOk(await as.asIntegration(tenant.id).gql(READ, { id: record.id, purpose: "SUPPORT" })).personalDataRecord.value, {
        email: "new@example.test",
        name: "N",
      });
      const [entry] = (await auditOf(tenant.id, "RECORD_CORRECTED")).filter((e) => e.outcome === "ALLOWED");
      assert.deepEqual(entry.details, {
        changedFields: ["value"],
        keysAdded: 1,
        keysRemoved: 1,
        keysChanged: 1,
        fromVersion: 1,
        toVersion: 2,
        recipientNotices: 0,
      });
      assert.doesNotMatch(JSON.stringify(await app.db.query("SELECT * FROM audit_log WHERE tenant_id = $1", [tenant.id])), /example\.test/);
    });

    it("lets exactly one of two concurrent corrections of one version apply", async () => {
      const { tenant, subject } = await setup();
      const record = await recordData(app, tenant.id, subject.id);
      const results = await Promise.all(
        ["a", "b"].map((v) => as.asIntegration(tenant.id).gql(CORRECT, { input: { id: record.id, expectedVersion: 1, value: { v } } })),
      );
      assert.deepEqual(results.map((r) => (r.errors ? r.errors[0].extensions.code : "OK")).sort(), ["OK", "VERSION_CONFLICT"]);
      const [{ version }] = await app.db.query("SELECT version FROM personal_data_record WHERE id = $1", [record.id]);
      assert.equal(version, 2);
    });

    it("refuses to correct a record pending deletion", async () => {
      const { tenant, subject } = await setup();
      const record = await recordData(app, tenant.id, subject.id);
      const deleted = assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: record.id }));
      assert.equal(deleted.deletePersonalData.status, "PENDING_DELETION");
      assertError(await as.asIntegration(tenant.id).gql(CORRECT, { input: { id: record.id, expectedVersion: 2, value: {} } }), "RECORD_PENDING_DELETION");
    });
  });

  describe("active deletion (rules 4, 6)", () => {
    it("makes a record pending with the tenant's grace, and deleting twice keeps the due date", async () => {
      const { tenant, subject } = await setup();
      const record = await recordData(app, tenant.id, subject.id);
      const at = new Date("2030-05-05T10:00:00.000Z");
      try {
        app.clock.set(at);
        const first = assertOk(await as.asTenantAdmin(tenant.id).gql(DELETE, { id: record.id })).deletePersonalData;
        assert.deepEqual(first, {
          id: record.id,
          status: "PENDING_DELETION",
          deletionReason: "ACTIVE_DELETION",
          deletionRequestedAt: at.toISOString(),
          purgeDueAt: new Date(at.getTime() + 7 * DAY).toISOString(),
        });
        app.clock.set(new Date(at.getTime() + 3 * DAY));
        assert.deepEqual(assertOk(await as.asTenantAdmin(tenant.id).gql(DELETE, { id: record.id })).deletePersonalData, first);
      } finally {
        app.clock.reset();
      }
    });

    it("deleting a subject deletes it and every active record; twice changes nothing", async () => {
      const { tenant, subject } = await setup();
      const records = [await recordData(app, tenant.id, subject.id), await recordData(app, tenant.id, subject.id)];
      const other = await registerSubject(app, tenant.id);
      const kept = await recordData(app, tenant.id, other.id);
      const deleted = assertOk(await as.asTenantAdmin(tenant.id).gql(DELETE_SUBJECT, { id: subject.id })).deleteDataSubject;
      assert.equal(deleted.status, "DELETED");
      const again = assertOk(await as.asTenantAdmin(tenant.id).gql(DELETE_SUBJECT, { id: subject.id })).deleteDataSubject;
      assert.deepEqual(again, deleted);
      for (const r of records) {
        const read = assertOk(await as.asTenantAdmin(tenant.id).gql(RECORD_FULL, { id: r.id })).personalDataRecord;
        assert.equal(read.status, "PENDING_DELETION");
        assert.equal(read.purgeDueAt, deleted.purgeDueAt);
      }
      assert.equal(assertOk(await as.asTenantAdmin(tenant.id).gql(RECORD_FULL, { id: kept.id })).personalDataRecord.status, "ACTIVE");
      assertError(await as.asIntegration(tenant.id).gql(DELETE_SUBJECT, { id: other.id }), "FORBIDDEN");
    });
  });

  describe("export (rule 14)", () => {
    it("returns the subject and every active record with value, purposes and dates, and audits a SUBJECT_ACCESS read", async () => {
      const { tenant, subject } = await setup();
      const kept = await recordData(app, tenant.id, subject.id, { category: "DEVICE", purposes: ["SUPPORT", "SECURITY"], value: { serial: "S1" } });
      const gone = await recordData(app, tenant.id, subject.id);
      assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: gone.id }));
      const exported = assertOk(await as.asTenantAdmin(tenant.id).gql(EXPORT, { id: subject.id, onRequest: "TICKET-4711" })).exportDataSubject;
      assert.equal(exported.dataSubjectId, subject.id);
      const doc = exported.document;
      assert.equal(doc.subject.id, subject.id);
      assert.equal(doc.subject.displayName, "Test Person");
      assert.deepEqual(
        doc.records.map((r: any) => [r.id, r.category, r.purposes, r.value, r.storageLocation, r.source]),
        [[kept.id, "DEVICE", ["SUPPORT", "SECURITY"], { serial: "S1" }, "EU", null]],
      );
      assert.ok(doc.records[0].createdAt);
      assert.deepEqual(doc.transfers, []);
      const [entry] = await auditOf(tenant.id, "DATA_SUBJECT_EXPORTED");
      assert.deepEqual(
        [entry.outcome, entry.purpose, entry.target_id, entry.details.recordIds, entry.details.onRequest],
        ["ALLOWED", "SUBJECT_ACCESS", subject.id, [kept.id], "TICKET-4711"],
      );
    });

    it("is refused to other roles, and the refusal is audited", async () => {
      const { tenant, subject } = await setup();
      for (const p of otherRoles(tenant.id, [Role.TENANT_ADMIN, Role.DATA_SUBJECT])) assertError(await app.as(p).gql(EXPORT, { id: subject.id }), "FORBIDDEN");
      const denied = await auditOf(tenant.id, "DATA_SUBJECT_EXPORTED");
      assert.deepEqual(denied.map((e) => `${e.actor_role}:${e.error_code}`).sort(), ["AUDITOR:FORBIDDEN", "INTEGRATION:FORBIDDEN"]);
    });

    it("is the person's own request, or an administrator's on the person's request, whose reference is audited", async () => {
      const { tenant, subject } = await setup();
      await recordData(app, tenant.id, subject.id);
      // An administrator without a request: refused, nothing handed out, the refusal audited.
      const refused = await as.asTenantAdmin(tenant.id).gql(EXPORT, { id: subject.id });
      assertError(refused, "BAD_USER_INPUT");
      assert.equal(refused.errors?.[0].extensions?.field, "onRequest");
      const hostile = "Request from Jan de Vries, jan@example.test";
      const prose = await as.asTenantAdmin(tenant.id).gql(EXPORT, { id: subject.id, onRequest: hostile });
      assertError(prose, "BAD_USER_INPUT");
      assert.ok(!JSON.stringify(prose).includes("Jan de Vries"), "the reference is not echoed");
      const entries = await auditOf(tenant.id, "DATA_SUBJECT_EXPORTED");
      assert.deepEqual(
        entries.map((e) => [e.outcome, e.error_code]),
        [
          ["DENIED", "BAD_USER_INPUT"],
          ["DENIED", "BAD_USER_INPUT"],
        ],
      );
      assert.ok(!JSON.stringify(entries).includes("Jan de Vries"), "nor audited");
      // The person's own export is their request; a reference is not theirs to give.
      assertOk(await as.asSubject(tenant.id, subject.id).gql(EXPORT, { id: subject.id }));
      assertError(await as.asSubject(tenant.id, subject.id).gql(EXPORT, { id: subject.id, onRequest: "T-1" }), "BAD_USER_INPUT");
      const [own] = (await auditOf(tenant.id, "DATA_SUBJECT_EXPORTED")).filter((e) => e.outcome === "ALLOWED");
      assert.deepEqual([own.actor_role, own.purpose, own.details.onRequest], ["DATA_SUBJECT", "SUBJECT_ACCESS", undefined]);
    });
  });

  describe("lists and N+1", () => {
    it("pages records with filters, and subjects with a status filter", async () => {
      const { tenant, subject } = await setup();
      const other = await registerSubject(app, tenant.id);
      const a = await recordData(app, tenant.id, subject.id, { category: "DEVICE" });
      const b = await recordData(app, tenant.id, other.id, { category: "CONTACT" });
      assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: b.id }));
      const q = `query($id: ID!, $filter: PersonalDataRecordFilter) { tenant(id: $id) { personalDataRecords(filter: $filter) { totalCount nodes { id } } } }`;
      const ids = async (filter: Record<string, unknown>) =>
        assertOk(await as.asAuditor(tenant.id).gql(q, { id: tenant.id, filter })).tenant.personalDataRecords.nodes.map((n: any) => n.id);
      assert.deepEqual(await ids({}), [a.id, b.id]);
      assert.deepEqual(await ids({ dataSubjectId: other.id }), [b.id]);
      assert.deepEqual(await ids({ category: "DEVICE" }), [a.id]);
      assert.deepEqual(await ids({ status: "PENDING_DELETION" }), [b.id]);
      assert.deepEqual(await ids({ dataSubjectId: "not-an-id" }), []);
      const subjects = `query($id: ID!, $status: DataSubjectStatus) { tenant(id: $id) { dataSubjects(status: $status) { totalCount nodes { id } } } }`;
      assertOk(await as.asTenantAdmin(tenant.id).gql(DELETE_SUBJECT, { id: other.id }));
      assert.deepEqual(assertOk(await as.asTenantAdmin(tenant.id).gql(subjects, { id: tenant.id, status: "DELETED" })).tenant.dataSubjects.nodes, [
        { id: other.id },
      ]);
      assert.equal(assertOk(await as.asTenantAdmin(tenant.id).gql(subjects, { id: tenant.id })).tenant.dataSubjects.totalCount, 2);
      assertError(await as.asSubject(tenant.id, subject.id).gql(subjects, { id: tenant.id }), "FORBIDDEN");
    });

    it("resolves subject, tenant and location through loaders: the statement count does not grow with the page", async () => {
      const { tenant } = await setup();
      const subjects = await Promise.all([1, 2, 3, 4, 5].map(() => registerSubject(app, tenant.id)));
      const items = Array.from({ length: 60 }, (_, i) => ({ dataSubjectId: subjects[i % 5].id, category: "DEVICE", purposes: ["SUPPORT"], value: { i } }));
      assertOk(await as.asIntegration(tenant.id).gql(BATCH, { input: { tenantId: tenant.id, records: items } }));
      const q = `query($id: ID!, $first: Int) { tenant(id: $id) { personalDataRecords(first: $first) { totalCount nodes {
        id category subject { id externalId tenant { id } } tenant { id name } storageLocation { code } } } } }`;
      const count = async (first: number) => {
        const { result, statements } = await countStatements(() => as.asTenantAdmin(tenant.id).gql(q, { id: tenant.id, first }));
        assert.equal(assertOk(result).tenant.personalDataRecords.nodes.length, first);
        return statements.length;
      };
      const small = await count(5);
      const large = await count(50);
      assert.equal(large, small, `a page of 50 took ${large} statements, a page of 5 took ${small}`);
      // 6 for the data, plus the request session's BEGIN, scope settings and COMMIT.
      assert.ok(large <= 9, `${large} statements`);
    });
  });
});
