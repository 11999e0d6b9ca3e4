import { IsOptional, IsString, Length, Matches } from "class-validator";
import { Field, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { Node } from "../../shared/graphql/node";

export enum ThirdPartyRole {
  AGENT = "AGENT",
  INDEPENDENT = "INDEPENDENT",
}

registerEnumType(ThirdPartyRole, {
  name: "ThirdPartyRole",
  description: "How a third party stands to the service (DOMAIN rule 15).",
  valuesConfig: {
    AGENT: { description: "Acts as the service's agent (subprocessor); may receive data only while on the subprocessor list." },
    INDEPENDENT: { description: "Not the service's agent (e.g. a platform vendor); receives data only with the tenant administrator's explicit consent." },
  },
});

@ObjectType("ThirdParty", { implements: Node, description: "A party outside the service that may receive or send personal data." })
export class ThirdParty extends Node {
  @Field({ description: "The party's name." })
  name!: string;

  @Field(() => ThirdPartyRole, { description: "AGENT (subprocessor) or INDEPENDENT." })
  role!: ThirdPartyRole;

  @Field({ description: "True while an AGENT is on the subprocessor list." })
  listedAsSubprocessor!: boolean;

  @Field({ description: "True for products that never receive data (e.g. on-premises software the customer runs)." })
  dataSharingProhibited!: boolean;

  @Field(() => String, { nullable: true, description: "ISO 3166-1 alpha-2 country where the party processes the data." })
  country!: string | null;

  @Field(() => String, { nullable: true, description: "What the party does with the data." })
  description!: string | null;
}

@InputType("RegisterThirdPartyInput", { description: "A third party for the registry." })
export class RegisterThirdPartyInput {
  @Field({ description: "The party's name, 1..200 characters, unique." })
  @IsString()
  @Matches(/\S/, { message: "name must not be blank" })
  @Length(1, 200)
  name!: string;

  @Field(() => ThirdPartyRole, { description: "AGENT (subprocessor) or INDEPENDENT." })
  role!: ThirdPartyRole;

  @Field(() => String, { nullable: true, description: "ISO 3166-1 alpha-2 country code, e.g. US." })
  @IsOptional()
  @Matches(/^[A-Z]{2}$/, { message: "country is an ISO 3166-1 alpha-2 code such as US" })
  country?: string | null;

  @Field(() => String, { nullable: true, description: "What the party does with the data, at most 1000 characters." })
  @IsOptional()
  @Length(0, 1000)
  description?: string | null;

  @Field(() => Boolean, { nullable: true, description: "True for products that must never receive data. Default false." })
  @IsOptional()
  dataSharingProhibited?: boolean | null;
}

@ObjectType("SubprocessorList", { description: "The agents that may receive data on the service's behalf." })
export class SubprocessorList {
  @Field(() => Int, { description: "Incremented on every listing change." })
  version!: number;

  @Field(() => Date, { nullable: true, description: "When the list last changed." })
  updatedAt!: Date | null;

  @Field(() => [ThirdParty], { description: "The agents listed now, by name." })
  entries!: ThirdParty[];
}

@ObjectType("SubprocessorListChange", { description: "One change of the subprocessor list, kept so tenants can see what changed and when." })
export class SubprocessorListChange {
  @Field(() => Int, { description: "The list version this change produced." })
  version!: number;

  @Field(() => ThirdParty, { description: "The agent listed or delisted." })
  thirdParty!: ThirdParty;

  @Field({ description: "True when the agent was added to the list, false when removed." })
  listed!: boolean;

  @Field({ description: "When the change was made." })
  changedAt!: Date;

  /** Not a field: the loader key. */
  thirdPartyId!: string;
}
