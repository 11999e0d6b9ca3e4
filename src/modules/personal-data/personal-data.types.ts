import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import { JSONObject } from "../../shared/graphql/json-object";
import { Node } from "../../shared/graphql/node";
import { connectionTypes } from "../../shared/pagination";
import { ProcessingPurpose } from "../purpose/processing-purpose";
import { DataCategory, DeletionReason, RecordStatus } from "./personal-data.enums";
import type { PersonalDataRecordEntity } from "./personal-data-record.entity";

export type JsonObject = Record<string, unknown>;

@ObjectType("PersonalDataRecord", {
  implements: Node,
  simpleResolvers: true,
  description: "One piece of personal data, with the purposes it was collected for.",
})
export class PersonalDataRecord extends Node {
  @Field(() => DataCategory, { description: "What kind of personal data this is." })
  category!: DataCategory;

  @Field(() => [ProcessingPurpose], { description: "Purposes declared at collection; reads for any other purpose are refused." })
  purposes!: ProcessingPurpose[];

  @Field(() => RecordStatus, { description: "ACTIVE, or PENDING_DELETION until purged." })
  status!: RecordStatus;

  @Field(() => DeletionReason, { nullable: true, description: "Why the record is pending deletion." })
  deletionReason!: DeletionReason | null;

  @Field(() => Date, { nullable: true, description: "When the deletion was requested." })
  deletionRequestedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: "When the record is purged from the database." })
  purgeDueAt!: Date | null;

  @Field(() => Int, { description: "Incremented on every change; used for optimistic concurrency." })
  version!: number;

  @Field({ description: "When the record was collected." })
  createdAt!: Date;

  @Field({ description: "When the record last changed." })
  updatedAt!: Date;

  /** Not fields: the keys the field resolvers load by. */
  tenantId!: string;
  dataSubjectId!: string;
  storageLocationCode!: string;
  sourceThirdPartyId!: string | null;
}

export function toRecord(e: PersonalDataRecordEntity): PersonalDataRecord {
  return Object.assign(new PersonalDataRecord(), {
    id: e.id,
    tenantId: e.tenantId,
    dataSubjectId: e.dataSubjectId,
    category: e.category,
    purposes: e.purposes,
    storageLocationCode: e.storageLocationCode,
    sourceThirdPartyId: e.sourceThirdPartyId,
    status: e.status,
    deletionReason: e.deletionReason,
    deletionRequestedAt: e.deletionRequestedAt,
    purgeDueAt: e.purgeDueAt,
    version: e.version,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  });
}

export const { ConnectionType: PersonalDataRecordConnection, EdgeType: PersonalDataRecordEdge } = connectionTypes(PersonalDataRecord, "PersonalDataRecord");

@InputType("PersonalDataRecordFilter", { description: "Narrows a page of records; every condition given must hold." })
export class PersonalDataRecordFilter {
  @Field(() => ID, { nullable: true, description: "Only this data subject's records." })
  dataSubjectId?: string | null;

  @Field(() => DataCategory, { nullable: true, description: "Only this category." })
  category?: DataCategory | null;

  @Field(() => RecordStatus, { nullable: true, description: "Only ACTIVE or only PENDING_DELETION records." })
  status?: RecordStatus | null;
}

/*
 * The record inputs are validated by the collection policy (collection-policy.ts), not by
 * class-validator: it names the failing field and, in a batch, the failing item's index.
 */

@InputType("RecordPersonalDataInput", { description: "One record to collect." })
export class RecordPersonalDataInput {
  @Field(() => ID, { description: "The tenant that holds the record." })
  tenantId!: string;

  @Field(() => ID, { description: "The person the record is about; a subject of the same tenant." })
  dataSubjectId!: string;

  @Field(() => DataCategory, { description: "What kind of personal data this is." })
  category!: DataCategory;

  @Field(() => [ProcessingPurpose], { description: "Why it is collected: at least one; never PROFILING, MARKETING or SUBJECT_ACCESS." })
  purposes!: ProcessingPurpose[];

  @Field(() => JSONObject, { description: "The data: a JSON object of at most 64 KiB serialized." })
  value!: JsonObject;

  @Field(() => ID, { nullable: true, description: "Set when the data comes from a third party; needs an ACTIVE INBOUND agreement covering the category." })
  sourceThirdPartyId?: string | null;

  @Field(() => ID, { nullable: true, description: "Where the caller means the record to be stored; refused unless it is the tenant's location." })
  storageLocationCode?: string | null;

  @Field(() => String, { nullable: true, description: "Retries with the same key and payload return the first result; a different payload is refused." })
  idempotencyKey?: string | null;
}

@InputType("RecordPersonalDataItemInput", { description: "One record of a batch." })
export class RecordPersonalDataItemInput {
  @Field(() => ID, { description: "The person the record is about; a subject of the batch's tenant." })
  dataSubjectId!: string;

  @Field(() => DataCategory, { description: "What kind of personal data this is." })
  category!: DataCategory;

  @Field(() => [ProcessingPurpose], { description: "Why it is collected: at least one; never PROFILING, MARKETING or SUBJECT_ACCESS." })
  purposes!: ProcessingPurpose[];

  @Field(() => JSONObject, { description: "The data: a JSON object of at most 64 KiB serialized." })
  value!: JsonObject;

  @Field(() => ID, { nullable: true, description: "Set when the data comes from a third party." })
  sourceThirdPartyId?: string | null;
}

@InputType("RecordPersonalDataBatchInput", { description: "Records collected together: all are written or none is." })
export class RecordPersonalDataBatchInput {
  @Field(() => ID, { description: "The tenant that holds the records." })
  tenantId!: string;

  @Field(() => [RecordPersonalDataItemInput], { description: "1..1000 items; all are written or none is." })
  records!: RecordPersonalDataItemInput[];

  @Field(() => String, { nullable: true, description: "Retries with the same key and payload return the first result; a different payload is refused." })
  idempotencyKey?: string | null;
}

@ObjectType("RecordBatchResult", { description: "What a batch wrote." })
export class RecordBatchResult {
  @Field(() => Int, { description: "How many records were written." })
  count!: number;

  @Field(() => [ID], { description: "The new records' ids, in the order of the items." })
  recordIds!: string[];
}

@InputType("CorrectPersonalDataInput", { description: "A correction of a record's value." })
export class CorrectPersonalDataInput {
  @Field(() => ID, { description: "The record to correct." })
  id!: string;

  @Field(() => Int, { description: "The version the caller read; a stale version is refused with VERSION_CONFLICT." })
  expectedVersion!: number;

  @Field(() => JSONObject, { description: "The corrected data: a JSON object of at most 64 KiB serialized." })
  value!: JsonObject;
}

@ObjectType("DataSubjectExport", { description: "Everything held about one person, as one machine-readable document." })
export class DataSubjectExport {
  @Field(() => ID, { description: "The exported subject." })
  dataSubjectId!: string;

  @Field({ description: "When the export was made." })
  generatedAt!: Date;

  @Field(() => JSONObject, {
    description: "Machine-readable export: the subject, every record with its value, purposes and source, and every transfer of those records.",
  })
  document!: JsonObject;
}
