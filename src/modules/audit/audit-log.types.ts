import { IsOptional, Matches, MaxLength } from "class-validator";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { Role } from "../../shared/auth/role";
import { JSONObject } from "../../shared/graphql/json-object";
import { Node } from "../../shared/graphql/node";
import { connectionTypes } from "../../shared/pagination";
import { ProcessingPurpose } from "../purpose/processing-purpose";
import type { AuditDetails } from "../../shared/audit/audit-draft";

/** Who may read a tenant's audit log: its administrator and auditor, and operators. */
export const AUDIT_READERS: readonly Role[] = [Role.OPERATOR, Role.TENANT_ADMIN, Role.AUDITOR];

export enum AuditOutcome {
  ALLOWED = "ALLOWED",
  DENIED = "DENIED",
}

registerEnumType(AuditOutcome, {
  name: "AuditOutcome",
  description: "Whether the audited attempt was carried out.",
  valuesConfig: {
    ALLOWED: { description: "The attempt was carried out." },
    DENIED: { description: "The attempt was refused; errorCode says why." },
  },
});

@ObjectType("AuditLogEntry", { implements: Node, description: "One audited attempt: who, what, on what, why, and whether it was allowed. Never a value." })
export class AuditLogEntry extends Node {
  @Field(() => ID, { nullable: true, description: "The tenant whose chain holds the entry; null for operator actions on reference data." })
  tenantId!: string | null;

  @Field({ description: "When it happened, by the service clock." })
  occurredAt!: Date;

  @Field({ description: "The token subject that made the attempt; a data subject as `data-subject:<its id>`, never its login." })
  actor!: string;

  @Field(() => Role, { description: "The role the actor's token named." })
  actorRole!: Role;

  @Field({ description: "e.g. RECORD_CREATED, RECORD_VALUE_READ, CONSENT_GRANTED, RECORDS_SHARED, RECORD_PURGED." })
  action!: string;

  @Field(() => String, { nullable: true, description: "The type of object acted on, e.g. PersonalDataRecord." })
  targetType!: string | null;

  @Field(() => ID, { nullable: true, description: "The id of the object acted on." })
  targetId!: string | null;

  @Field(() => ProcessingPurpose, { nullable: true, description: "The processing purpose the attempt stated, if any." })
  purpose!: ProcessingPurpose | null;

  @Field(() => AuditOutcome, { description: "ALLOWED or DENIED." })
  outcome!: AuditOutcome;

  @Field(() => String, { nullable: true, description: "The error code when outcome is DENIED." })
  errorCode!: string | null;

  @Field(() => JSONObject, { nullable: true, description: "Never holds personal data values." })
  details!: AuditDetails | null;

  @Field({ description: "Hash over this entry and the previous entry's hash (per tenant chain)." })
  hash!: string;

  /** Not a field: the entry's place in its chain, the cursor of the newest-first pages. */
  chainSeq!: number;
}

export const { ConnectionType: AuditLogEntryConnection, EdgeType: AuditLogEntryEdge } = connectionTypes(AuditLogEntry, "AuditLogEntry");

const ACTION = /^[A-Z][A-Z_]{0,99}$/;

@InputType("AuditLogFilter", { description: "Narrows an audit log page; every condition given must hold." })
export class AuditLogFilter {
  @Field(() => String, { nullable: true, description: "Only this action, e.g. RECORD_VALUE_READ." })
  @IsOptional()
  @Matches(ACTION, { message: "action is an UPPER_SNAKE_CASE action name, e.g. RECORD_VALUE_READ" })
  action?: string | null;

  @Field(() => String, { nullable: true, description: "Only this actor, as entries name it (a token subject, or `data-subject:<id>`)." })
  @IsOptional()
  @MaxLength(255)
  actor?: string | null;

  @Field(() => AuditOutcome, { nullable: true, description: "Only ALLOWED or only DENIED attempts." })
  @IsOptional()
  outcome?: AuditOutcome | null;

  @Field(() => Date, { nullable: true, description: "Only entries at or after this time." })
  @IsOptional()
  since?: Date | null;

  @Field(() => Date, { nullable: true, description: "Only entries before this time." })
  @IsOptional()
  until?: Date | null;
}

@ObjectType("AuditCheckpoint", {
  description:
    "A signed statement that the chain, verified up to this position, had this hash there. Keep your own copies: " +
    "a chain that ends before one, or differs from one, was tampered with. Check the signature with the auditSigningKey (Ed25519 over `message`).",
})
export class AuditCheckpoint {
  @Field({ description: "The entry's position in its chain, in decimal (it may exceed 32 bits)." })
  chainSeq!: string;

  @Field({ description: "The entry's hash (SHA-256, hex)." })
  hash!: string;

  @Field({ description: "When it was signed, by the service clock." })
  signedAt!: Date;

  @Field({ description: "Which key signed it (see auditSigningKey)." })
  keyId!: string;

  @Field({ description: "Ed25519 signature over `message`, base64url." })
  signature!: string;

  @Field({ description: "Exactly the text that was signed: the chain, position, hash and time." })
  message!: string;
}

@ObjectType("AuditSigningKey", { description: "The public key that signs audit checkpoints." })
export class AuditSigningKey {
  @Field({ description: "What each checkpoint's keyId names: the first 16 hex digits of the SHA-256 of the public key (SPKI DER)." })
  keyId!: string;

  @Field({ description: "Always Ed25519." })
  algorithm!: string;

  @Field({ description: "The public key, PEM (SPKI)." })
  publicKeyPem!: string;
}

@ObjectType("AuditVerification", { description: "The result of recomputing a tenant's audit chain." })
export class AuditVerification {
  @Field({ description: "True when every entry is intact, in place and none is missing." })
  valid!: boolean;

  @Field(() => Int, { description: "How many entries were checked (up to and including the first invalid one)." })
  entriesChecked!: number;

  @Field(() => ID, { nullable: true, description: "The first entry that is edited or out of place; null when valid or when entries are missing at the end." })
  firstInvalidEntryId!: string | null;

  @Field(() => String, { nullable: true, description: "What was found wrong first, in words; null when valid." })
  problem!: string | null;

  @Field(() => AuditCheckpoint, {
    nullable: true,
    description: "The newest signed checkpoint, which the chain was compared with; null when none was signed yet.",
  })
  checkpoint!: AuditCheckpoint | null;

  @Field({ description: "True when every retained entry was recomputed; false when the check started at the newest checkpoint's entry." })
  full!: boolean;
}
