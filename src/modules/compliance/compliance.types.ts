import { Field, Int, ObjectType } from "type-graphql";

@ObjectType("ComplianceReport", { description: "How the tenant's data stands against the service's promises, computed now with the service clock." })
export class ComplianceReport {
  @Field({ description: "When the report was computed." })
  generatedAt!: Date;

  @Field(() => Int, { description: "Records in use." })
  activeRecords!: number;

  @Field(() => Int, { description: "Records deleted and waiting for their purge." })
  pendingDeletionRecords!: number;

  @Field(() => Int, { description: "Records past purgeDueAt that still exist: 0 whenever retention runs on schedule." })
  overdueDeletions!: number;

  @Field(() => Date, { nullable: true, description: "The earliest purge due among pending records." })
  oldestPurgeDueAt!: Date | null;

  @Field(() => Int, { description: "Audit entries older than the policy allows: 0 whenever retention runs on schedule." })
  auditEntriesBeyondRetention!: number;

  @Field(() => Int, { description: "Sharing agreements waiting for the tenant administrator's consent." })
  agreementsPendingConsent!: number;

  @Field(() => Int, { description: "Sharing agreements suspended because their agent is not on the subprocessor list." })
  suspendedAgreements!: number;

  @Field(() => Int, { description: "Breach notifications the tenant has not acknowledged." })
  unacknowledgedBreachNotifications!: number;

  @Field(() => Int, { description: "Records stored outside the tenant's storage location: always 0." })
  residencyViolations!: number;

  @Field(() => Int, { description: "Data subjects' requests open (including those awaiting proof of identity)." })
  openSubjectRequests!: number;

  @Field(() => Int, { description: "Data subjects' requests past their due date and still open." })
  overdueSubjectRequests!: number;
}
