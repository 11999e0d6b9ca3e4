import { Field, ID, Int, ObjectType } from "type-graphql";

@ObjectType("RetentionRun", { description: "What one retention run purged (or, as a dry run, would purge)." })
export class RetentionRun {
  @Field({ description: "True when the run only counted and changed nothing." })
  dryRun!: boolean;

  @Field({ description: "When the run started, by the service clock." })
  startedAt!: Date;

  @Field({ description: "When the run finished, by the service clock." })
  finishedAt!: Date;

  @Field(() => Int, { description: "Records deleted from the database: past their purgeDueAt, or of a tenant whose data purge was due." })
  recordsPurged!: number;

  @Field(() => Int, { description: "Deleted data subjects removed after their records, and every subject of a purged tenant." })
  dataSubjectsPurged!: number;

  @Field(() => Int, { description: "Ended tenants whose personal data is now gone (they remain as PURGED tombstones)." })
  tenantsPurged!: number;

  @Field(() => Int, { description: "Deadline events raised by this run (breach overdue, subject request due soon and overdue)." })
  deadlineEventsRaised!: number;

  @Field(() => Int, { description: "Audit entries older than their tenant's audit retention." })
  auditEntriesPurged!: number;

  @Field(() => Int, { description: "Idempotency keys past their 24 hours (and every key of a purged tenant)." })
  idempotencyKeysPurged!: number;

  @Field(() => Int, { description: "Audit checkpoints signed: each chain verified from its newest checkpoint, and signed where it got to (0 in a dry run)." })
  auditCheckpointsSigned!: number;

  @Field(() => [ID], {
    description: "Chains that failed verification, so nothing was signed for them: a tenant's id, or the nil uuid for the operators' chain. Look at once.",
  })
  auditChainsInvalid!: string[];
}
