import { routeFieldsToRegions } from "./region-routing";
import "reflect-metadata";
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from "graphql";
import { buildSchema, type ContainerType, type NonEmptyArray } from "type-graphql";
import { allowedRoles } from "./shared/auth/allow";
import { AuditLogResolver } from "./modules/audit/audit-log.resolver";
import { AuditLogService } from "./modules/audit/audit-log.service";
import { AuditService } from "./modules/audit/audit.service";
import { AuditSigner } from "./modules/audit/audit-signer";
import { ComplianceResolver } from "./modules/compliance/compliance.resolver";
import { ComplianceService } from "./modules/compliance/compliance.service";
import { RetentionResolver } from "./modules/retention/retention.resolver";
import { BreachNotificationResolver, IncidentResolver, TenantBreachNotificationsResolver } from "./modules/incident/incident.resolver";
import { IncidentService } from "./modules/incident/incident.service";
import { InboundCheck } from "./modules/sharing/inbound-check";
import { PartyAgreementStatus } from "./modules/sharing/party-agreement-status";
import { RecipientNotices } from "./modules/sharing/recipient-notices";
import { RecordTransferHistory } from "./modules/sharing/record-transfer-history";
import {
  DataTransferResolver,
  RecordTransfersResolver,
  RecipientNoticeResolver,
  SharingAgreementResolver,
  TenantAgreementsResolver,
} from "./modules/sharing/sharing.resolver";
import { SharingNodes, SharingService } from "./modules/sharing/sharing.service";
import { ThirdPartyResolver } from "./modules/third-party/third-party.resolver";
import { ThirdPartyService } from "./modules/third-party/third-party.service";
import { SubscriptionResolver } from "./modules/subscription/subscription.resolver";
import { SubscriptionService } from "./modules/subscription/subscription.service";
import { DataSubjectResolver, TenantDataSubjectsResolver } from "./modules/data-subject/data-subject.resolver";
import { DataSubjectService } from "./modules/data-subject/data-subject.service";
import { ExportService } from "./modules/personal-data/export.service";
import { IdempotencyKeys } from "./modules/personal-data/idempotency";
import { PersonalDataRecordResolver, SubjectRecordsResolver, TenantRecordsResolver } from "./modules/personal-data/personal-data.resolver";
import { planTenantRecordPages } from "./modules/personal-data/tenant-record-pages";
import { PersonalDataService } from "./modules/personal-data/personal-data.service";
import { RecordDeletion } from "./modules/personal-data/record-deletion";
import { ValueReader } from "./modules/personal-data/value-reader";
import { StorageLocationResolver } from "./modules/storage-location/storage-location.resolver";
import { StorageLocationService } from "./modules/storage-location/storage-location.service";
import { TenantResolver } from "./modules/tenant/tenant.resolver";
import { TenantService } from "./modules/tenant/tenant.service";
import { TestClockResolver } from "./modules/test-clock/test-clock.resolver";
import { ViewerResolver } from "./modules/viewer/viewer.resolver";
import { NodeResolver } from "./modules/node/node.resolver";
import { DataSubjectRequestsResolver, SubjectRequestResolver, TenantSubjectRequestsResolver } from "./modules/subject-request/subject-request.resolver";
import { SubjectRequestService } from "./modules/subject-request/subject-request.service";
import { noteExport } from "./modules/subject-request/subject-request.store";
import { recordIdsOfSubject } from "./modules/personal-data/personal-data.store";
import { em } from "./shared/db/database";
import { WebhookDeliveryResolver, WebhookEndpointResolver } from "./modules/events/webhooks.resolver";
import { EventSubscriptionResolver } from "./modules/events/events.resolver";
import { WebhookService, type WebhookSettings } from "./modules/events/webhooks.service";
import { systemResolve } from "./modules/events/webhook-transport";
import type { NodeSource } from "./modules/node/node-lookup";
import { guardFields } from "./root-field.guard";
import { JoinRegistry } from "./shared/read-path/joins";
import type { RequestContext } from "./context";
import type { SettableClock } from "./shared/clock";

import { KeyRing } from "./modules/keys/key-ring";
import { SealedValues } from "./modules/personal-data/sealed-values";
import { SealedIdentities } from "./modules/data-subject/sealed-identity";
import { SealedReasons } from "./modules/subject-request/sealed-reasons";

export interface SchemaOptions {
  /** When set, the schema has `setTestClock`, driving this clock. */
  testClock?: SettableClock;
  /** Signs and checks audit checkpoints. */
  auditSigner: AuditSigner;
  /** Which webhook receivers may be registered; default: public addresses only, http or https. */
  webhooks?: WebhookSettings;
  /** The key hierarchy that seals personal data (src/modules/keys); without one, a schema that seals nothing (printing it, checking it). */
  keys?: KeyRing;
}

/** The services, wired once; all request state travels in the context instead. */
function wire(options: SchemaOptions) {
  const audit = new AuditService();
  const locations = new StorageLocationService();
  const tenants = new TenantService(locations);
  const notices = new RecipientNotices();
  const deletion = new RecordDeletion(notices);
  const parties = new ThirdPartyService(audit, new PartyAgreementStatus());
  const sharing = new SharingService(tenants, parties);
  const incidents = new IncidentService(audit, tenants);
  const keys = options.keys ?? KeyRing.withoutMasterKey();
  const subjects = new DataSubjectService(tenants, deletion, new SealedIdentities(keys));
  const values = new SealedValues(keys);
  const records = new PersonalDataService(tenants, deletion, new IdempotencyKeys(keys), new InboundCheck(parties), notices, values);
  const auditLog = new AuditLogService(options.auditSigner);
  const sharingNodes = new SharingNodes();
  const requests = new SubjectRequestService(
    subjects,
    {
      recordIdsOf: (ctx, tenantId, subjectId) => recordIdsOfSubject(em(ctx), tenantId, subjectId),
      rectificationsSince: (ctx, tenantId, recordIds, since) => notices.since(ctx, tenantId, recordIds, "RECTIFICATION", since),
    },
    new SealedReasons(keys),
  );
  const webhooks = new WebhookService(options.webhooks ?? { rules: { resolve: systemResolve, allowPrivate: false }, httpsOnly: false }, keys);
  // Every type that implements Node, found as the fields that reach it would find it.
  const nodeSources: Array<NodeSource<RequestContext>> = [
    (ctx, ids) => tenants.reachable(ctx, ids),
    (ctx, ids) => subjects.reachable(ctx, ids),
    (ctx, ids) => records.reachable(ctx, ids),
    (ctx, ids) => parties.reachable(ctx, ids),
    (ctx, ids) => sharingNodes.agreements(ctx, ids),
    (ctx, ids) => sharingNodes.transfers(ctx, ids),
    (ctx, ids) => sharingNodes.notices(ctx, ids),
    (ctx, ids) => incidents.reachableIncidents(ctx, ids),
    (ctx, ids) => incidents.reachableNotifications(ctx, ids),
    (ctx, ids) => auditLog.reachable(ctx, ids),
    (ctx, ids) => requests.reachable(ctx, ids),
    (ctx, ids) => webhooks.reachableEndpoints(ctx, ids),
    (ctx, ids) => webhooks.reachableDeliveries(ctx, ids),
  ];
  // The read path: every field a parent's statement fetches with it, declared here and only here.
  const readPath = new JoinRegistry<RequestContext>([
    {
      parentType: "Tenant",
      field: "personalDataRecords",
      plan: (ctx, field) => planTenantRecordPages(ctx, field, values),
      alsoAnswers: [["PersonalDataRecord", "subject"]],
    },
  ]);
  const instances = new Map<unknown, unknown>([
    [ViewerResolver, new ViewerResolver()],
    [StorageLocationResolver, new StorageLocationResolver(locations)],
    [TenantResolver, new TenantResolver(tenants, locations, readPath)],
    [AuditLogResolver, new AuditLogResolver(auditLog, tenants, options.auditSigner)],
    [DataSubjectResolver, new DataSubjectResolver(subjects, tenants)],
    [SubjectRecordsResolver, new SubjectRecordsResolver(records)],
    [TenantDataSubjectsResolver, new TenantDataSubjectsResolver(subjects)],
    [
      PersonalDataRecordResolver,
      new PersonalDataRecordResolver(
        records,
        new ValueReader(audit, values),
        new ExportService(subjects, audit, new RecordTransferHistory(parties), values, (ctx, tenantId, subjectId, at) =>
          noteExport(em(ctx), tenantId, subjectId, at),
        ),
        subjects,
        tenants,
        locations,
        parties,
      ),
    ],
    [TenantRecordsResolver, new TenantRecordsResolver(records)],
    [ThirdPartyResolver, new ThirdPartyResolver(parties)],
    [SharingAgreementResolver, new SharingAgreementResolver(sharing, tenants, parties)],
    [DataTransferResolver, new DataTransferResolver(sharing)],
    [RecordTransfersResolver, new RecordTransfersResolver(sharing)],
    [RecipientNoticeResolver, new RecipientNoticeResolver(sharing)],
    [TenantAgreementsResolver, new TenantAgreementsResolver(sharing)],
    [IncidentResolver, new IncidentResolver(incidents, tenants)],
    [BreachNotificationResolver, new BreachNotificationResolver(incidents, tenants)],
    [TenantBreachNotificationsResolver, new TenantBreachNotificationsResolver(incidents)],
    [SubscriptionResolver, new SubscriptionResolver(new SubscriptionService(tenants, deletion))],
    [RetentionResolver, new RetentionResolver(audit, options.auditSigner, keys)],
    [ComplianceResolver, new ComplianceResolver(new ComplianceService())],
    [NodeResolver, new NodeResolver(nodeSources)],
    [SubjectRequestResolver, new SubjectRequestResolver(requests, subjects, tenants, sharingNodes)],
    [TenantSubjectRequestsResolver, new TenantSubjectRequestsResolver(requests)],
    [DataSubjectRequestsResolver, new DataSubjectRequestsResolver(requests)],
    [WebhookEndpointResolver, new WebhookEndpointResolver(webhooks, tenants)],
    [WebhookDeliveryResolver, new WebhookDeliveryResolver(webhooks)],
    [EventSubscriptionResolver, new EventSubscriptionResolver()],
  ]);
  if (options.testClock) instances.set(TestClockResolver, new TestClockResolver(options.testClock));
  const container: ContainerType = {
    get(someClass) {
      const instance = instances.get(someClass);
      if (!instance) throw new Error(`no instance wired for ${(someClass as { name?: string }).name}`);
      return instance;
    },
  };
  // type-graphql's buildSchema takes resolver classes as NonEmptyArray<Function>.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  return { audit, container, readPath, resolvers: [...instances.keys()] as unknown as NonEmptyArray<Function> };
}

export async function createSchema(options: SchemaOptions): Promise<GraphQLSchema> {
  const { audit, container, resolvers, readPath } = wire(options);
  const schema = await buildSchema({
    resolvers,
    container,
    // Subscriptions take their events from the hub (EventSubscriptionContext), never by topic; type-graphql asks for a PubSub all the same.
    pubSub: {
      publish: () => {
        throw new Error("events are published by committing them (the outbox), not through type-graphql");
      },
      subscribe: () => {
        throw new Error("subscriptions read the event hub, not topics");
      },
    },
    // Never echo rejected values back (they may be personal data).
    validate: { forbidUnknownValues: true, validationError: { target: false, value: false } },
  });
  // Objects of these types live in their tenant's region: their field resolvers run there.
  routeFieldsToRegions(schema, {
    Tenant: (t: { id: string }) => t.id,
    DataSubject: (s: { tenantId: string }) => s.tenantId,
    PersonalDataRecord: (r: { tenantId: string }) => r.tenantId,
    SharingAgreement: (a: { tenantId: string }) => a.tenantId,
    DataTransfer: (t: { tenantId: string }) => t.tenantId,
    RecipientNotice: (n: { tenantId: string }) => n.tenantId,
    SubjectRequest: (r: { tenantId: string }) => r.tenantId,
  });
  // Fields a parent's statement fetched take that answer without their type-graphql resolver
  // (nor a trip to their region); before the guard, which must run around them.
  readPath.install(schema);
  // The guard goes around root fields and fields that declare roles only, after the build: a
  // type-graphql global middleware would run around every field, as a promise each.
  guardFields(schema, audit);
  // type-graphql has no decorator for the root types; partners read these in introspection.
  schema.getQueryType()!.description = "Reads. Every field names the roles that may call it.";
  schema.getMutationType()!.description = "Writes. Every mutation is audited, refused attempts included.";
  schema.getSubscriptionType()!.description =
    "Committed events, over graphql-ws on the same path; connection_init carries the bearer token as {authorization}. Queries and mutations go over HTTP.";
  nameRoles(schema);
  return schema;
}

/** Partners read who may call what in introspection: each root field's description ends with the roles its guard admits. */
function nameRoles(schema: GraphQLSchema): void {
  for (const root of [schema.getQueryType(), schema.getMutationType()]) {
    for (const field of Object.values(root?.getFields() ?? {})) {
      const roles = allowedRoles(field);
      if (!roles) continue;
      const line = `Roles: ${roles.join(", ")}.`;
      field.description = field.description ? `${field.description}\n\n${line}` : line;
    }
  }
}

/** The schema as committed in schema/schema.graphql: sorted, without test-only fields. */
export async function printContractSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await createSchema({ auditSigner: AuditSigner.development("schema printing only") })))}\n`;
}
