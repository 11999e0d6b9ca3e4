import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { buildSchema, printSchema, lexicographicSortSchema, type GraphQLEnumType, type GraphQLSchema } from "graphql";
import { wireName } from "../../src/modules/events/event-type";
import { createSchema, printContractSchema } from "../../src/schema";
import { SettableClock } from "../../src/shared/clock";
import { TEST_AUDIT_SIGNER } from "../helpers/app";
import {
  CONTRACT_PATH,
  contractBreaks,
  loadContract,
  loadNextContract,
  nextContractBreaks,
  UPSTREAM_CONTRACT_PATH,
  pendingButPresent,
  SCHEMA_PATH,
  undescribed,
  unguardedRootFields,
} from "../helpers/schema-checks";

describe("authorization coverage", () => {
  it("every Query and Mutation field declares its roles, and every Mutation its audit action", async () => {
    const schema = await createSchema({ testClock: new SettableClock(), auditSigner: TEST_AUDIT_SIGNER });
    assert.deepEqual(unguardedRootFields(schema), []);
  });

  it("the check finds a field without a rule", () => {
    const schema = buildSchema(`type Query { open: String } type Mutation { change: String }`);
    assert.deepEqual(unguardedRootFields(schema), ["Query.open: no roles", "Mutation.change: no roles", "Mutation.change: no audit action"]);
  });
});

describe("schema/schema.graphql", () => {
  it("is what `npm run schema` emits now (run it and commit the file when this fails)", async () => {
    assert.equal(readFileSync(SCHEMA_PATH, "utf8"), await printContractSchema());
  });

  it("is sorted and never contains test-only fields", async () => {
    const sdl = await printContractSchema();
    assert.equal(sdl, `${printSchema(lexicographicSortSchema(buildSchema(sdl)))}\n`);
    assert.doesNotMatch(sdl, /setTestClock/);
    const withClock = await createSchema({ testClock: new SettableClock(), auditSigner: TEST_AUDIT_SIGNER });
    assert.ok(withClock.getMutationType()?.getFields().setTestClock, "TEST_CLOCK schemas have setTestClock");
  });

  it("describes every type, field, input field and enum value", async () => {
    assert.deepEqual(undescribed(buildSchema(await printContractSchema())), []);
  });
});

describe("the partner contract (schema/contract.graphql, vendored from ../shared/spec)", () => {
  it("is the same as the upstream spec, when the checkout sits beside it", { skip: !existsSync(UPSTREAM_CONTRACT_PATH) && "no ../shared/spec here" }, () => {
    assert.equal(
      readFileSync(CONTRACT_PATH, "utf8"),
      readFileSync(UPSTREAM_CONTRACT_PATH, "utf8"),
      "copy ../shared/spec/contract.graphql to schema/contract.graphql",
    );
  });

  it("is not broken by the emitted schema for the parts implemented", async () => {
    assert.deepEqual(await contractBreaks(loadContract(), buildSchema(await printContractSchema())), []);
  });

  it("lists as pending only what is really not built yet", async () => {
    assert.deepEqual(pendingButPresent(buildSchema(await printContractSchema())), []);
  });

  it("the check finds a removed field, an output made nullable and an argument made required", async () => {
    const sdl = await printContractSchema();
    const broken = buildSchema(
      sdl
        .replace(/\n {2}"""The caller's role."""\n {2}role: Role!\n/, "\n") // Viewer.role removed
        .replace(`"""The tenant's name."""\n  name: String!`, `"""The tenant's name."""\n  name: String`) // Tenant.name nullable
        .replace(/(tenants\(\n[^)]*?after: )String/, "$1String!"), // optional argument made required
    );
    const breaks = (await contractBreaks(loadContract(), broken)).join("\n");
    assert.match(breaks, /Viewer\.role/);
    assert.match(breaks, /Tenant\.name/);
    assert.match(breaks, /Query\.tenants\.after/);
  });
});

describe("the next contract (schema/contract-next.graphql) for what is built of it", () => {
  /** The subject-request parts: same names and types as outside clients are written against. (EventType joins with the Event type.) */
  const BUILT = [
    "SubjectRequestKind",
    "SubjectRequestStatus",
    "SubjectRequest",
    "SubjectRequestConnection",
    "SubjectRequestEdge",
    "OpenSubjectRequestInput",
    "Tenant.subjectRequests",
    "DataSubject.requests",
    "ComplianceReport.openSubjectRequests",
    "ComplianceReport.overdueSubjectRequests",
    "RetentionRun.deadlineEventsRaised",
    "Query.subjectRequest",
    "Mutation.openSubjectRequest",
    "Mutation.requestSubjectIdentity",
    "Mutation.confirmSubjectIdentity",
    "Mutation.extendSubjectRequest",
    "Mutation.completeSubjectRequest",
    "Mutation.rejectSubjectRequest",
    "EventType",
    "Event",
    "Subscription",
    "WebhookEndpoint",
    "WebhookEndpointWithSecret",
    "WebhookDeliveryStatus",
    "WebhookDelivery",
    "WebhookAttempt",
    "WebhookDeliveryConnection",
    "WebhookDeliveryEdge",
    "CreateWebhookEndpointInput",
    "Query.webhookEndpoints",
    "Mutation.createWebhookEndpoint",
    "Mutation.rotateWebhookSecret",
    "Mutation.disableWebhookEndpoint",
    "Mutation.enableWebhookEndpoint",
    "Mutation.deleteWebhookEndpoint",
    "Mutation.replayWebhookDelivery",
  ];

  it("the emitted schema has those parts with the same names and types", async () => {
    assert.deepEqual(await nextContractBreaks(buildSchema(await printContractSchema()), BUILT), []);
  });

  it("every EventType value carries the next contract's dotted wire name, which the webhook body uses", async () => {
    const emitted = buildSchema(await printContractSchema());
    const wire = (schema: GraphQLSchema) =>
      Object.fromEntries((schema.getType("EventType") as GraphQLEnumType).getValues().map((v) => [v.name, /^"([a-z_.]+)"/.exec(v.description ?? "")?.[1]]));
    const expected = wire(loadNextContract(emitted));
    assert.equal(Object.keys(expected).length, 13);
    assert.deepEqual(wire(emitted), expected);
    for (const [name, dotted] of Object.entries(expected)) assert.equal(wireName(name), dotted);
  });

  it("the check finds a renamed field and a changed type", async () => {
    const sdl = (await printContractSchema())
      .replace("  rejectionReason: String\n", "  rejectReason: String\n")
      .replace("  dueAt: DateTimeISO\n", "  dueAt: String\n");
    const breaks = (await nextContractBreaks(buildSchema(sdl), BUILT)).join("\n");
    assert.match(breaks, /SubjectRequest\.rejectionReason/);
    assert.match(breaks, /SubjectRequest\.dueAt/);
  });
});
