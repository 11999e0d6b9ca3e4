import { IsIn, IsOptional, IsString } from "class-validator";
import { Field, ID, InputType, ObjectType, registerEnumType } from "type-graphql";
import { Role } from "../../shared/auth/role";
import { Node } from "../../shared/graphql/node";
import { connectionTypes } from "../../shared/pagination";
import type { StoredReasons } from "./sealed-reasons";
import type { SubjectRequestEntity } from "./subject-request.entity";
import { SubjectRequestKind, SubjectRequestStatus } from "./subject-request-policy";

export { SubjectRequestKind, SubjectRequestStatus };

/** Who reads subject requests: the tenant's administrators and auditors, and a data subject its own. */
export const REQUEST_READERS = [Role.TENANT_ADMIN, Role.AUDITOR, Role.DATA_SUBJECT] as const;

registerEnumType(SubjectRequestKind, {
  name: "SubjectRequestKind",
  description: "What the data subject asks for (GDPR Art. 15, 16, 17, 20).",
  valuesConfig: {
    ACCESS: { description: "A copy of its data (Art. 15): answered with an export." },
    RECTIFICATION: { description: "A correction (Art. 16): answered with the corrections made and the recipients told." },
    ERASURE: { description: "Erasure (Art. 17): completing it deletes the subject." },
    PORTABILITY: { description: "Its data in a machine-readable form (Art. 20): answered with an export." },
  },
});
registerEnumType(SubjectRequestStatus, {
  name: "SubjectRequestStatus",
  description: "Where a request stands.",
  valuesConfig: {
    OPEN: { description: "Received; the clock runs." },
    AWAITING_IDENTITY: { description: "Proof of identity was asked for; the clock restarts when it is confirmed." },
    COMPLETED: { description: "Answered." },
    REJECTED: { description: "Refused, with a reason (Art. 12(4))." },
  },
});

@ObjectType("SubjectRequest", {
  implements: Node,
  description: "A data subject's request and its legal clock (GDPR Art. 12(3)): due one month from the clock's start, three once extended.",
})
export class SubjectRequest extends Node {
  /** Not a field: the tenant field resolver loads by it. */
  tenantId!: string;

  @Field(() => ID, { description: "Kept after the subject is purged (the request stays as proof, without personal data)." })
  dataSubjectId!: string;

  @Field(() => SubjectRequestKind, { description: "What the subject asks for." })
  kind!: SubjectRequestKind;

  @Field(() => SubjectRequestStatus, { description: "Where the request stands." })
  status!: SubjectRequestStatus;

  @Field({ description: "When the request reached the tenant." })
  receivedAt!: Date;

  @Field(() => Date, { nullable: true, description: "When the clock started: receipt, or confirmation of identity." })
  clockStartedAt!: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: "End of the due day (UTC): one month from clockStartedAt, three once extended (Art. 12(3)); null while awaiting identity.",
  })
  dueAt!: Date | null;

  @Field(() => Date, { nullable: true, description: "The due date before the extension; null if not extended." })
  originalDueAt!: Date | null;

  @Field(() => Date, { nullable: true, description: "When the request was completed." })
  completedAt!: Date | null;

  @Field({ description: "When the request was recorded." })
  createdAt!: Date;

  /** Not a field: `recipientNotices` loads them. */
  recipientNoticeIds!: string[];

  /** Not a field: the reasons as stored, which `extensionReason` and `rejectionReason` open. */
  stored!: StoredReasons;
}

export function toSubjectRequest(e: SubjectRequestEntity): SubjectRequest {
  return Object.assign(new SubjectRequest(), {
    id: e.id,
    tenantId: e.tenantId,
    dataSubjectId: e.dataSubjectId,
    kind: e.kind,
    status: e.status,
    receivedAt: e.receivedAt,
    clockStartedAt: e.clockStartedAt,
    dueAt: e.dueAt,
    originalDueAt: e.originalDueAt,
    completedAt: e.completedAt,
    createdAt: e.createdAt,
    recipientNoticeIds: e.recipientNoticeIds,
    stored: {
      id: e.id,
      tenantId: e.tenantId,
      dataSubjectId: e.dataSubjectId,
      extensionReason: e.extensionReason,
      rejectionReason: e.rejectionReason,
      extensionReasonSealed: e.extensionReasonSealed,
      rejectionReasonSealed: e.rejectionReasonSealed,
    },
  });
}

export const { ConnectionType: SubjectRequestConnection, EdgeType: SubjectRequestEdge } = connectionTypes(SubjectRequest, "SubjectRequest");

@InputType("OpenSubjectRequestInput", { description: "A data subject's request as it reached the tenant." })
export class OpenSubjectRequestInput {
  @Field(() => ID, { description: "The subject the request is about (a data subject: itself)." })
  @IsString()
  dataSubjectId!: string;

  @Field(() => SubjectRequestKind, { description: "What the subject asks for." })
  @IsIn(Object.values(SubjectRequestKind))
  kind!: SubjectRequestKind;

  @Field(() => Date, { nullable: true, description: "When the request reached the tenant; default now; never in the future." })
  @IsOptional()
  receivedAt?: Date | null;
}
