import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Principal } from "../../src/shared/auth/principal";
import { type TestApp, principals, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { consentedAgreement, createTenant, declaredIncident, recordData, registerSubject } from "../helpers/factories";

const NODE = `query($id: ID!) { node(id: $id) { __typename id } }`;
const NODES = `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`;

/**
 * `node(id)` finds an object exactly when the caller reaches it through the API's other fields.
 * The world: tenant A (EU) with two subjects, their records, an agreement that carried both
 * subjects' records, an erasure notice, a breach notification and audit entries; tenant B (US)
 * with its own record; a third party; an operator audit entry. For every object and caller, what
 * `node` answers is compared with what the other fields reach.
 */
describe("node and nodes (Relay object identification)", () => {
  let app: TestApp;
  const ids: Record<string, string> = {};
  let callers: Array<{ name: string; principal: Principal }>;

  before(async () => {
    app = await startTestApp();
    const a = await createTenant(app, { storageLocationCode: "EU" });
    const b = await createTenant(app, { storageLocationCode: "US" });
    const subject = await registerSubject(app, a.id);
    const otherSubject = await registerSubject(app, a.id);
    const record = await recordData(app, a.id, subject.id, { category: "CONTACT", purposes: ["SUPPORT"], value: { email: "a@example.com" } });
    const otherRecord = await recordData(app, a.id, otherSubject.id, { category: "CONTACT", purposes: ["SUPPORT"], value: { email: "b@example.com" } });
    const gone = await recordData(app, a.id, otherSubject.id, { category: "CONTACT", purposes: ["SUPPORT"], value: { email: "c@example.com" } });
    const bRecord = await recordData(app, b.id, (await registerSubject(app, b.id)).id, {
      category: "CONTACT",
      purposes: ["SUPPORT"],
      value: { email: "d@example.com" },
    });
    const { party, agreement } = await consentedAgreement(app, a.id);
    const integration = app.as(principals.integration(a.id));
    const share = `mutation($input: ShareRecordsInput!) { shareRecords(input: $input) { id } }`;
    const both = assertOk(
      await integration.gql(share, { input: { agreementId: agreement.id, recordIds: [record.id, otherRecord.id], purpose: "SUPPORT" } }),
    ).shareRecords;
    const othersOnly = assertOk(await integration.gql(share, { input: { agreementId: agreement.id, recordIds: [gone.id], purpose: "SUPPORT" } })).shareRecords;
    assertOk(await integration.gql(`mutation($id: ID!) { deletePersonalData(id: $id) { id } }`, { id: gone.id }));
    const { id: incident } = await declaredIncident(app, [a.id]);
    const admin = app.as(principals.tenantAdmin(a.id));
    const seen = assertOk(
      await admin.gql(
        `query($id: ID!) { tenant(id: $id) { breachNotifications { id } auditLog(first: 1) { nodes { id } } sharingAgreement: sharingAgreements { nodes { openNotices { id } } } } }`,
        {
          id: a.id,
        },
      ),
    ).tenant;
    const operatorEntry = assertOk(await app.as(principals.operator()).gql(`{ operatorAuditLog(first: 1) { nodes { id } } }`)).operatorAuditLog.nodes[0];
    Object.assign(ids, {
      tenantA: a.id,
      tenantB: b.id,
      subject: subject.id,
      otherSubject: otherSubject.id,
      record: record.id,
      otherRecord: otherRecord.id,
      recordB: bRecord.id,
      party: party.id,
      agreement: agreement.id,
      transferBoth: both.id,
      transferOthersOnly: othersOnly.id,
      notice: seen.sharingAgreement.nodes[0].openNotices[0].id,
      incident,
      notification: seen.breachNotifications[0].id,
      entryA: seen.auditLog.nodes[0].id,
      operatorEntry: operatorEntry.id,
    });
    callers = [
      { name: "operator", principal: principals.operator() },
      { name: "partner", principal: principals.partner() },
      { name: "A's admin", principal: principals.tenantAdmin(a.id) },
      { name: "A's integration", principal: principals.integration(a.id) },
      { name: "A's auditor", principal: principals.auditor(a.id) },
      { name: "A's subject", principal: principals.subject(a.id, subject.id) },
      { name: "B's admin", principal: principals.tenantAdmin(b.id) },
    ];
  });
  after(() => app.close());

  /** Every id the caller reaches through the other fields (a field it may not call reaches nothing). */
  async function reachedByFields(principal: Principal): Promise<Set<string>> {
    const caller = app.as(principal);
    const found = new Set<string>();
    const collect = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(collect);
      else if (value && typeof value === "object") {
        for (const [key, inner] of Object.entries(value)) {
          if (key === "id" && typeof inner === "string") found.add(inner);
          else collect(inner);
        }
      }
    };
    const ask = async (query: string, variables: Record<string, unknown> = {}) => collect((await caller.gql(query, variables)).data);
    for (const tenant of [ids.tenantA, ids.tenantB]) {
      await ask(`query($id: ID!) { tenant(id: $id) { id } }`, { id: tenant });
      await ask(`query($id: ID!) { tenant(id: $id) { breachNotifications { id } } }`, { id: tenant });
      await ask(`query($id: ID!) { tenant(id: $id) { auditLog(first: 500) { nodes { id } } } }`, { id: tenant });
      await ask(`query($id: ID!) { tenant(id: $id) { sharingAgreements { nodes { id transfers { nodes { id } } openNotices { id } } } } }`, { id: tenant });
    }
    for (const id of [ids.subject, ids.otherSubject]) await ask(`query($id: ID!) { dataSubject(id: $id) { id } }`, { id });
    for (const id of [ids.record, ids.otherRecord, ids.recordB]) {
      await ask(`query($id: ID!) { personalDataRecord(id: $id) { id } }`, { id });
      await ask(`query($id: ID!) { personalDataRecord(id: $id) { transfers { id agreement { id } } } }`, { id });
    }
    await ask(`query($id: ID!) { sharingAgreement(id: $id) { id transfers { nodes { id } } openNotices { id } } }`, { id: ids.agreement });
    await ask(`query($id: ID!) { breachIncident(id: $id) { id notifications { id } } }`, { id: ids.incident });
    await ask(`{ thirdParties { id } }`);
    await ask(`{ operatorAuditLog(first: 500) { nodes { id } } }`);
    return found;
  }

  it("answers each object to exactly the callers whose other fields reach it", async () => {
    const objects = Object.entries(ids);
    for (const { name, principal } of callers) {
      const reached = await reachedByFields(principal);
      const answered = assertOk(await app.as(principal).gql(NODES, { ids: objects.map(([, id]) => id) })).nodes as Array<{ id: string } | null>;
      objects.forEach(([object, id], i) => {
        assert.equal(
          answered[i] !== null,
          reached.has(id),
          `${name}, ${object}: node ${answered[i] ? "found" : "null"}, the other fields ${reached.has(id) ? "reach it" : "do not"}`,
        );
        if (answered[i]) assert.equal(answered[i]!.id, id);
      });
    }
  });

  it("the comparison has teeth: who sees what, spelled out", async () => {
    const visible = async (principal: Principal) => {
      const answered = assertOk(await app.as(principal).gql(NODES, { ids: Object.values(ids) })).nodes as Array<{ id: string } | null>;
      return Object.keys(ids).filter((_, i) => answered[i] !== null);
    };
    assert.deepEqual(await visible(principals.operator()), Object.keys(ids), "operators reach everything, in both regions");
    assert.deepEqual(await visible(principals.partner()), ["party"]);
    assert.deepEqual(await visible(principals.tenantAdmin(ids.tenantB)), ["tenantB", "recordB", "party"]);
    // A data subject: itself, its record, the transfer that carried it and that transfer's agreement; not the other subject's.
    assert.deepEqual(await visible(principals.subject(ids.tenantA, ids.subject)), ["tenantA", "subject", "record", "party", "agreement", "transferBoth"]);
    assert.deepEqual(await visible(principals.integration(ids.tenantA)), [
      "tenantA",
      "subject",
      "otherSubject",
      "record",
      "otherRecord",
      "party",
      "agreement",
      "transferBoth",
      "transferOthersOnly",
      "notice",
    ]);
  });

  it("gives each object its own type, with its fields resolved as anywhere else (a US record for an operator on control)", async () => {
    const { node } = assertOk(
      await app
        .as(principals.operator())
        .gql(`query($id: ID!) { node(id: $id) { __typename id ... on PersonalDataRecord { category storageLocation { code } tenant { id } } } }`, {
          id: ids.recordB,
        }),
    );
    assert.deepEqual(
      { ...node, storageLocation: { ...node.storageLocation }, tenant: { ...node.tenant } },
      {
        __typename: "PersonalDataRecord",
        id: ids.recordB,
        category: "CONTACT",
        storageLocation: { code: "US" },
        tenant: { id: ids.tenantB },
      },
    );
    const types = assertOk(await app.as(principals.operator()).gql(NODES, { ids: Object.values(ids) })).nodes.map((n: { __typename: string }) => n.__typename);
    assert.deepEqual(types, [
      "Tenant",
      "Tenant",
      "DataSubject",
      "DataSubject",
      "PersonalDataRecord",
      "PersonalDataRecord",
      "PersonalDataRecord",
      "ThirdParty",
      "SharingAgreement",
      "DataTransfer",
      "DataTransfer",
      "RecipientNotice",
      "BreachIncident",
      "BreachNotification",
      "AuditLogEntry",
      "AuditLogEntry",
    ]);
  });

  it("shows a data subject only its own records in a transfer, as its record's transfers do", async () => {
    const me = app.as(principals.subject(ids.tenantA, ids.subject));
    const { node } = assertOk(await me.gql(`query($id: ID!) { node(id: $id) { ... on DataTransfer { recordIds recordCount } } }`, { id: ids.transferBoth }));
    assert.deepEqual([...node.recordIds], [ids.record]);
    assert.equal(node.recordCount, 1);
    // The operator sees the whole transfer.
    const whole = assertOk(
      await app.as(principals.operator()).gql(`query($id: ID!) { node(id: $id) { ... on DataTransfer { recordIds } } }`, { id: ids.transferBoth }),
    );
    assert.deepEqual([...whole.node.recordIds].sort(), [ids.record, ids.otherRecord].sort());
  });

  it("answers in the order asked, repeats included, null for unknown or malformed ids; node alike", async () => {
    const unknown = randomUUID();
    const { nodes } = assertOk(
      await app.as(principals.operator()).gql(NODES, { ids: [ids.record, "not-an-id", unknown, ids.tenantA.toUpperCase(), ids.record] }),
    );
    assert.deepEqual(
      nodes.map((n: { id: string } | null) => n?.id ?? null),
      [ids.record, null, null, ids.tenantA, ids.record],
    );
    assert.equal(assertOk(await app.as(principals.operator()).gql(NODE, { id: unknown })).node, null);
    assert.equal(assertOk(await app.as(principals.operator()).gql(NODE, { id: "'; DROP TABLE tenant; --" })).node, null);
    assert.equal(assertOk(await app.as(principals.tenantAdmin(ids.tenantB)).gql(NODE, { id: ids.record })).node, null);
    assert.equal(assertOk(await app.as(principals.tenantAdmin(ids.tenantA)).gql(NODE, { id: ids.record })).node.id, ids.record);
  });

  it("takes at most 100 ids, refusing more with BAD_USER_INPUT on ids, and refuses anonymous callers", async () => {
    const hundred = Array.from({ length: 100 }, () => randomUUID());
    assert.equal(assertOk(await app.as(principals.operator()).gql(NODES, { ids: hundred })).nodes.length, 100);
    assertError(await app.as(principals.operator()).gql(NODES, { ids: [...hundred, ids.record] }), "BAD_USER_INPUT", "ids");
    assertError(await app.as(null).gql(NODE, { id: ids.record }), "UNAUTHENTICATED");
  });
});
