import type { GraphQLResolveInfo } from "graphql";
import { Arg, Args, Ctx, FieldResolver, ID, Info, Mutation, Query, Resolver, Root } from "type-graphql";
import { findInRegions, type RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { JSONObject } from "../../shared/graphql/json-object";
import { selectionOf } from "../../shared/read-path/lookahead";
import { PageArgs } from "../../shared/pagination";
import { Audited } from "../../shared/audit/audited";
import { DATA_VIEWERS } from "../data-subject/data-viewers";
import type { DataSubjectService } from "../data-subject/data-subject.service";
import { DataSubject } from "../data-subject/data-subject.types";
import { ProcessingPurpose } from "../purpose/processing-purpose";
import { StorageLocation } from "../storage-location/storage-location.entity";
import type { StorageLocationService } from "../storage-location/storage-location.service";
import type { TenantService } from "../tenant/tenant.service";
import { Tenant } from "../tenant/tenant.types";
import { EXPORT_COST, VALUE_READ_COST } from "./collection-policy";
import { EXPORT_ACTION, type ExportService } from "./export.service";
import type { PersonalDataService } from "./personal-data.service";
import {
  CorrectPersonalDataInput,
  DataSubjectExport,
  PersonalDataRecord,
  PersonalDataRecordConnection,
  PersonalDataRecordFilter,
  RecordBatchResult,
  RecordPersonalDataBatchInput,
  RecordPersonalDataInput,
} from "./personal-data.types";
import { recordSelectionOf } from "./record-columns";
import type { ValueReader } from "./value-reader";
import type { ThirdPartyService } from "../third-party/third-party.service";
import { ThirdParty } from "../third-party/third-party.types";

/** Who writes records: the tenant's administrator and integrations. */
const WRITERS = [Role.TENANT_ADMIN, Role.INTEGRATION] as const;
/** Who corrects and deletes: writers, and a data subject for its own records. */
const EDITORS = [Role.TENANT_ADMIN, Role.INTEGRATION, Role.DATA_SUBJECT] as const;

@Resolver(() => PersonalDataRecord)
export class PersonalDataRecordResolver {
  constructor(
    private readonly records: PersonalDataService,
    private readonly values: ValueReader,
    private readonly exports: ExportService,
    private readonly subjects: DataSubjectService,
    private readonly tenants: TenantService,
    private readonly locations: StorageLocationService,
    private readonly parties: ThirdPartyService,
  ) {}

  @Query(() => PersonalDataRecord, { nullable: true, description: "A record by id; null when it does not exist or is outside your scope." })
  @Allow(...DATA_VIEWERS)
  personalDataRecord(@Ctx() ctx: RequestContext, @Arg("id", () => ID, { description: "The record's id." }) id: string) {
    return findInRegions(ctx, (on) => this.records.get(on, id));
  }

  @Query(() => DataSubjectExport, {
    description:
      "Everything held about a person, as one document: for the person, or for the tenant's administrator on the person's request (`onRequest`). " +
      "Audited as a SUBJECT_ACCESS read, with the request's reference.",
    complexity: EXPORT_COST,
  })
  @Allow(Role.TENANT_ADMIN, Role.DATA_SUBJECT)
  @Audited(EXPORT_ACTION)
  exportDataSubject(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { description: "The data subject whose data is exported." }) id: string,
    @Arg("onRequest", () => String, {
      nullable: true,
      description:
        "TENANT_ADMIN, required: the reference of the person's request this export answers (a ticket number, a request id; 1-100 of A-Z a-z 0-9 . _ : / # -). Kept in the audit entry. Not for the person themselves.",
    })
    onRequest: string | null,
  ) {
    return this.exports.export(ctx, id, onRequest);
  }

  // Record inputs are checked by the collection policy, which names the field and batch index.
  @Mutation(() => PersonalDataRecord, { description: "Collects one record, in the tenant's storage location, for declared purposes." })
  @Allow(...WRITERS)
  @Audited("RECORD_CREATED")
  recordPersonalData(
    @Ctx() ctx: RequestContext,
    @Arg("input", () => RecordPersonalDataInput, {
      description: "The record: its data subject, category, value and the purposes it was collected for.",
      validate: false,
    })
    input: RecordPersonalDataInput,
  ) {
    return this.records.record(ctx, input);
  }

  @Mutation(() => RecordBatchResult, { description: "Collects 1..1000 records in one transaction: all or none." })
  @Allow(...WRITERS)
  @Audited("RECORDS_BATCH_CREATED")
  recordPersonalDataBatch(
    @Ctx() ctx: RequestContext,
    @Arg("input", () => RecordPersonalDataBatchInput, { description: "1-1000 records, stored all or none, under an idempotency key.", validate: false })
    input: RecordPersonalDataBatchInput,
  ) {
    return this.records.recordBatch(ctx, input);
  }

  @Mutation(() => PersonalDataRecord, { description: "Corrects a record's value; refused with VERSION_CONFLICT when expectedVersion is stale." })
  @Allow(...EDITORS)
  @Audited("RECORD_CORRECTED")
  correctPersonalData(
    @Ctx() ctx: RequestContext,
    @Arg("input", () => CorrectPersonalDataInput, { description: "The record and its corrected value.", validate: false }) input: CorrectPersonalDataInput,
  ) {
    return this.records.correct(ctx, input);
  }

  @Mutation(() => PersonalDataRecord, { description: "Active deletion of one record." })
  @Allow(...EDITORS)
  @Audited("RECORD_DELETED")
  deletePersonalData(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { description: "The record to delete (purged after the tenant's grace period)." }) id: string,
  ) {
    return this.records.delete(ctx, id);
  }

  @FieldResolver(() => JSONObject, {
    description: "The personal data itself. Every read states its purpose and is written to the audit log.",
    complexity: VALUE_READ_COST,
  })
  value(
    @Ctx() ctx: RequestContext,
    @Root() record: PersonalDataRecord,
    @Arg("purpose", () => ProcessingPurpose, {
      description: "Why you read it: refused unless the record was collected for it, and always for profiling and marketing. Audited either way.",
    })
    purpose: ProcessingPurpose,
  ) {
    return this.values.read(ctx, record, purpose);
  }

  @FieldResolver(() => Tenant, { description: "The tenant that holds the record." })
  async tenant(@Ctx() ctx: RequestContext, @Root() record: PersonalDataRecord): Promise<Tenant> {
    return (await this.tenants.byId(ctx, record.tenantId))!;
  }

  @FieldResolver(() => DataSubject, { description: "The person the record is about." })
  async subject(@Ctx() ctx: RequestContext, @Root() record: PersonalDataRecord): Promise<DataSubject> {
    // A page that joined the subjects left them on the records: the schema answers those first (answerLeftValuesFirst).
    return (await this.subjects.byId(ctx, record.dataSubjectId))!;
  }

  @FieldResolver(() => ThirdParty, { nullable: true, description: "The third party the data came from; null when the service collected it itself." })
  source(@Ctx() ctx: RequestContext, @Root() record: PersonalDataRecord): Promise<ThirdParty | null> | null {
    return record.sourceThirdPartyId ? this.parties.byId(ctx, record.sourceThirdPartyId) : null;
  }

  @FieldResolver(() => StorageLocation, { description: "Where the record is stored; always the tenant's storage location." })
  async storageLocation(@Ctx() ctx: RequestContext, @Root() record: PersonalDataRecord): Promise<StorageLocation> {
    return (await this.locations.byCode(ctx, record.storageLocationCode))!;
  }
}

@Resolver(() => Tenant)
export class TenantRecordsResolver {
  constructor(private readonly records: PersonalDataService) {}

  @FieldResolver(() => PersonalDataRecordConnection, { description: "The tenant's records, oldest first." })
  @Allow(Role.OPERATOR, Role.TENANT_ADMIN, Role.INTEGRATION, Role.AUDITOR)
  personalDataRecords(
    @Ctx() ctx: RequestContext,
    @Root() tenant: Tenant,
    @Args() page: PageArgs,
    @Arg("filter", () => PersonalDataRecordFilter, { description: "Only records that match every condition given.", nullable: true, validate: false })
    filter: PersonalDataRecordFilter | null,
    @Info() info: GraphQLResolveInfo,
  ) {
    // The tenants page may have fetched it already (tenant-record-pages: one statement for all):
    // the schema answers that first (answerLeftValuesFirst).
    return this.records.list(ctx, { tenantId: tenant.id }, page, filter, recordSelectionOf(selectionOf(info)));
  }
}

@Resolver(() => DataSubject)
export class SubjectRecordsResolver {
  constructor(private readonly service: PersonalDataService) {}

  @FieldResolver(() => PersonalDataRecordConnection, { description: "The subject's records, oldest first." })
  records(@Ctx() ctx: RequestContext, @Root() subject: DataSubject, @Args() page: PageArgs) {
    return this.service.list(ctx, { tenantId: subject.tenantId, dataSubjectId: subject.id }, page);
  }
}
