import { IsInt, IsOptional, IsString, Length, Matches, ValidateNested } from "class-validator";
import { Field, ID, InputType, Int } from "type-graphql";

@InputType({ description: "A change of retention policy; absent fields keep their value." })
export class RetentionPolicyInput {
  @Field(() => Int, { nullable: true, description: "Days between a deletion and the purge: 1..30." })
  @IsOptional()
  @IsInt()
  deletionGraceDays?: number | null;

  @Field(() => Int, { nullable: true, description: "Days an audit log entry is kept: 1..365." })
  @IsOptional()
  @IsInt()
  auditLogRetentionDays?: number | null;
}

@InputType({ description: "A new tenant." })
export class CreateTenantInput {
  @Field({ description: "The tenant's name, 1..200 characters." })
  @IsString()
  @Matches(/\S/, { message: "name must not be blank" })
  @Length(1, 200)
  name!: string;

  @Field(() => ID, { description: "The storage location chosen by the tenant's administrator; fixed for the tenant's data." })
  @IsString()
  storageLocationCode!: string;

  @Field(() => RetentionPolicyInput, { nullable: true, description: "Defaults: 30 days of deletion grace, 365 days of audit log." })
  @IsOptional()
  @ValidateNested()
  retentionPolicy?: RetentionPolicyInput | null;
}
