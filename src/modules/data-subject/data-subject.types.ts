import { IsOptional, IsString, Length, Matches } from "class-validator";
import { Field, ID, InputType, ObjectType } from "type-graphql";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { Node } from "../../shared/graphql/node";
import { connectionTypes } from "../../shared/pagination";
import type { DataSubjectEntity } from "./data-subject.entity";
import { DataSubjectStatus } from "./data-subject.status";
import type { StoredIdentity } from "./sealed-identity";
import { asBytes } from "../../shared/db/bytes";

/** Roles that may see who a subject is: its identifiers are personal data (operators and auditors never read them). */
export const SUBJECT_IDENTITY_READERS = [Role.TENANT_ADMIN, Role.INTEGRATION, Role.DATA_SUBJECT] as const;

@ObjectType("DataSubject", { implements: Node, simpleResolvers: true, description: "A person whose data one tenant holds." })
export class DataSubject extends Node {
  @Field({
    simple: false,
    description: "The tenant's own identifier of the person (e.g. directory object id). Personal data: tenant admin, integration and the subject only.",
  })
  @Allow(...SUBJECT_IDENTITY_READERS)
  externalId!: string;

  @Field(() => String, {
    nullable: true,
    simple: false,
    description: "The person's name as the tenant knows it. Personal data: tenant admin, integration and the subject only.",
  })
  @Allow(...SUBJECT_IDENTITY_READERS)
  displayName!: string | null;

  @Field(() => DataSubjectStatus, { description: "ACTIVE, or DELETED with its records pending purge." })
  status!: DataSubjectStatus;

  @Field(() => Date, { nullable: true, description: "When an administrator deleted the subject." })
  deletedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: "When the deleted subject and its records are purged." })
  purgeDueAt!: Date | null;

  @Field({ description: "When the subject was registered." })
  createdAt!: Date;

  /** Not a field: the tenant field resolver loads by it. */
  tenantId!: string;

  /** Not a field: the identifiers as stored, which externalId and displayName open (sealed-identity.ts). */
  stored!: StoredIdentity;
}

export function toDataSubject(e: DataSubjectEntity): DataSubject {
  return Object.assign(new DataSubject(), {
    id: e.id,
    tenantId: e.tenantId,
    stored: {
      id: e.id,
      tenantId: e.tenantId,
      externalId: e.externalId ?? null,
      displayName: e.displayName ?? null,
      externalIdSealed: asBytes(e.externalIdSealed),
      displayNameSealed: asBytes(e.displayNameSealed),
    },
    status: e.status,
    deletedAt: e.deletedAt,
    purgeDueAt: e.purgeDueAt,
    createdAt: e.createdAt,
  });
}

export const { ConnectionType: DataSubjectConnection, EdgeType: DataSubjectEdge } = connectionTypes(DataSubject, "DataSubject");

@InputType("RegisterDataSubjectInput", { description: "A person the tenant will hold data about." })
export class RegisterDataSubjectInput {
  @Field(() => ID, { description: "The tenant that holds the person's data." })
  @IsString()
  tenantId!: string;

  @Field({ description: "The tenant's own identifier of the person, 1..255 characters, unique in the tenant." })
  @IsString()
  @Matches(/\S/, { message: "externalId must not be blank" })
  @Length(1, 255)
  externalId!: string;

  @Field(() => String, { nullable: true, description: "The person's name, 1..200 characters." })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  displayName?: string | null;
}
