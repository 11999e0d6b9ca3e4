import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { IsOptional, IsString, Length, Matches } from "class-validator";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { Node } from "../../shared/graphql/node";
import { connectionTypes } from "../../shared/pagination";
import { DataCategory } from "../personal-data/personal-data.enums";
import { ProcessingPurpose } from "../purpose/processing-purpose";

export enum SharingDirection {
  OUTBOUND = "OUTBOUND",
  INBOUND = "INBOUND",
}

export enum SharingAgreementStatus {
  PENDING_CONSENT = "PENDING_CONSENT",
  ACTIVE = "ACTIVE",
  SUSPENDED = "SUSPENDED",
  REVOKED = "REVOKED",
}

export enum NoticeKind {
  ERASURE = "ERASURE",
  RECTIFICATION = "RECTIFICATION",
}

registerEnumType(SharingDirection, {
  name: "SharingDirection",
  description: "Which way data flows under an agreement.",
  valuesConfig: {
    OUTBOUND: { description: "Data the service sends to the third party." },
    INBOUND: { description: "Data the third party sends to the service." },
  },
});

registerEnumType(SharingAgreementStatus, {
  name: "SharingAgreementStatus",
  description: "Whether data may flow under an agreement now.",
  valuesConfig: {
    PENDING_CONSENT: { description: "An INDEPENDENT party's agreement waiting for the tenant administrator's consent." },
    ACTIVE: { description: "Data may flow." },
    SUSPENDED: { description: "An agent's agreement while the agent is not on the subprocessor list." },
    REVOKED: { description: "Consent revoked: final; a new agreement is needed." },
  },
});

registerEnumType(NoticeKind, {
  name: "NoticeKind",
  description: "What a recipient of shared data must be told (GDPR Art. 19).",
  valuesConfig: {
    ERASURE: { description: "The record was deleted: the recipient must erase its copy." },
    RECTIFICATION: { description: "The record was corrected: the recipient must update its copy." },
  },
});

@ObjectType("Consent", { description: "The tenant administrator's consent to an INDEPENDENT party's agreement." })
export class Consent {
  @Field({ description: "The administrator (token subject) who consented." })
  grantedBy!: string;

  @Field({ description: "When consent was granted." })
  grantedAt!: Date;

  @Field(() => [DataCategory], { description: "The data categories consented to." })
  dataCategories!: DataCategory[];

  @Field(() => [ProcessingPurpose], { description: "The purposes consented to." })
  purposes!: ProcessingPurpose[];

  @Field(() => String, { nullable: true, description: "The administrator who revoked it." })
  revokedBy!: string | null;

  @Field(() => Date, { nullable: true, description: "When it was revoked; nothing is shared after this." })
  revokedAt!: Date | null;

  @Field(() => String, { nullable: true, description: "Why it was revoked." })
  revocationReason!: string | null;
}

/**
 * Who may see an agreement whole: the tenant's roles and the operator. A data subject reaches an
 * agreement through a transfer of its own record and sees who received it and on what terms,
 * never the tenant's contract, consent or what else went out under it (other people's records).
 */
export const AGREEMENT_VIEWERS = [Role.OPERATOR, Role.TENANT_ADMIN, Role.INTEGRATION, Role.AUDITOR] as const;

@ObjectType("SharingAgreement", { implements: Node, description: "The terms under which one tenant's data may flow to or from one third party." })
export class SharingAgreement extends Node {
  @Field({ description: "The feature whose enabling needs the sharing, e.g. 'Apple Device Enrollment Program'." })
  feature!: string;

  @Field(() => SharingDirection, { description: "OUTBOUND (to the party) or INBOUND (from it)." })
  direction!: SharingDirection;

  @Field(() => [DataCategory], { description: "The categories that may flow." })
  dataCategories!: DataCategory[];

  @Field(() => [ProcessingPurpose], { description: "The purposes data may flow for." })
  purposes!: ProcessingPurpose[];

  @Field(() => SharingAgreementStatus, { description: "Whether data may flow now." })
  status!: SharingAgreementStatus;

  @Field(() => String, { nullable: true, description: "The tenant's own contract with the third party, which governs the data once there." })
  @Allow(...AGREEMENT_VIEWERS)
  tenantContractReference!: string | null;

  @Field(() => Consent, { nullable: true, description: "The administrator's consent (INDEPENDENT parties); null until granted." })
  @Allow(...AGREEMENT_VIEWERS)
  consent!: Consent | null;

  @Field(() => Date, { nullable: true, description: "When the agreement was revoked (with or without consent granted before)." })
  revokedAt!: Date | null;

  @Field({ description: "When the agreement was made." })
  createdAt!: Date;

  /** Not fields: loader keys. */
  tenantId!: string;
  thirdPartyId!: string;
}

export const { ConnectionType: SharingAgreementConnection, EdgeType: SharingAgreementEdge } = connectionTypes(SharingAgreement, "SharingAgreement");

@ObjectType("DataTransfer", { implements: Node, description: "Records shared under an agreement: which, when and why; never the values." })
export class DataTransfer extends Node {
  @Field(() => ProcessingPurpose, { description: "Why they were shared." })
  purpose!: ProcessingPurpose;

  @Field(() => [ID], { description: "The records shared (to a data subject: its own only)." })
  recordIds!: string[];

  @Field(() => Int, { description: "How many records were shared (to a data subject: of its own)." })
  recordCount!: number;

  @Field(() => [DataCategory], { description: "The categories of the records shared (to a data subject: of its own)." })
  categories!: DataCategory[];

  @Field({ description: "When they were shared." })
  transferredAt!: Date;

  /** Not a field: the loader key. */
  agreementId!: string;
  /** Not a field: whose transfer it is (its region answers its fields). */
  tenantId!: string;
}

export const { ConnectionType: DataTransferConnection, EdgeType: DataTransferEdge } = connectionTypes(DataTransfer, "DataTransfer");

@ObjectType("RecipientNotice", {
  implements: Node,
  description: "A recipient of a shared record must be told it was erased or corrected (DOMAIN rule 21); open until confirmed.",
})
export class RecipientNotice extends Node {
  @Field(() => ID, { description: "The record concerned (it may since have been purged)." })
  recordId!: string;

  @Field(() => NoticeKind, { description: "ERASURE or RECTIFICATION." })
  kind!: NoticeKind;

  @Field({ description: "When the record was deleted or corrected." })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: "When the recipient was confirmed told; null while open." })
  confirmedAt!: Date | null;

  @Field(() => String, { nullable: true, description: "Who confirmed it." })
  confirmedBy!: string | null;

  /** Not a field: the agreement whose recipient must be told. */
  agreementId!: string;
  tenantId!: string;
}

@InputType("CreateSharingAgreementInput", { description: "Terms for sharing with one third party." })
export class CreateSharingAgreementInput {
  @Field(() => ID, { description: "The tenant whose data would flow." })
  @IsString()
  tenantId!: string;

  @Field(() => ID, { description: "The third party." })
  @IsString()
  thirdPartyId!: string;

  @Field({ description: "The feature whose enabling needs the sharing, 1..200 characters." })
  @IsString()
  @Matches(/\S/, { message: "feature must not be blank" })
  @Length(1, 200)
  feature!: string;

  @Field(() => SharingDirection, { description: "OUTBOUND or INBOUND." })
  direction!: SharingDirection;

  @Field(() => [DataCategory], { description: "At least one category." })
  dataCategories!: DataCategory[];

  @Field(() => [ProcessingPurpose], { description: "At least one purpose; never PROFILING, MARKETING or SUBJECT_ACCESS." })
  purposes!: ProcessingPurpose[];

  @Field(() => String, { nullable: true, description: "The tenant's own contract with the party, at most 200 characters." })
  @IsOptional()
  @Length(0, 200)
  tenantContractReference?: string | null;
}

@InputType("ShareRecordsInput", { description: "Records to share under an agreement, for one purpose." })
export class ShareRecordsInput {
  @Field(() => ID, { description: "The ACTIVE OUTBOUND agreement." })
  agreementId!: string;

  @Field(() => [ID], { description: "1..1000 records of the agreement's tenant; all are shared or none is." })
  recordIds!: string[];

  @Field(() => ProcessingPurpose, { description: "One purpose of the agreement and of every record." })
  purpose!: ProcessingPurpose;
}
