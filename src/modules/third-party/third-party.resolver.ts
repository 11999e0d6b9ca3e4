import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { ALL_ROLES, Role } from "../../shared/auth/role";
import { Audited } from "../../shared/audit/audited";
import type { ThirdPartyService } from "./third-party.service";
import { RegisterThirdPartyInput, SubprocessorList, SubprocessorListChange, ThirdParty, ThirdPartyRole } from "./third-party.types";

@Resolver(() => SubprocessorListChange)
export class ThirdPartyResolver {
  constructor(private readonly parties: ThirdPartyService) {}

  @Query(() => [ThirdParty], { description: "The third-party registry, by name (every role)." })
  @Allow(...ALL_ROLES)
  thirdParties(
    @Ctx() ctx: RequestContext,
    @Arg("role", () => ThirdPartyRole, { description: "Only parties of this role; every role when omitted.", nullable: true }) role: ThirdPartyRole | null,
  ) {
    return this.parties.list(ctx, role);
  }

  @Query(() => SubprocessorList, { description: "The agents that may receive data now, with the list's version (every role)." })
  @Allow(...ALL_ROLES)
  subprocessorList(@Ctx() ctx: RequestContext) {
    return this.parties.subprocessorList(ctx);
  }

  @Query(() => [SubprocessorListChange], { description: "Every listing change after `sinceVersion` (default: all), oldest first (every role)." })
  @Allow(...ALL_ROLES)
  subprocessorListHistory(
    @Ctx() ctx: RequestContext,
    @Arg("sinceVersion", () => Int, { description: "Only the changes after this list version; all when omitted.", nullable: true }) sinceVersion: number | null,
  ) {
    return this.parties.history(ctx, sinceVersion);
  }

  @Mutation(() => ThirdParty, { description: "Adds a party to the registry (an AGENT starts unlisted)." })
  @Allow(Role.OPERATOR)
  @Audited("THIRD_PARTY_REGISTERED")
  registerThirdParty(
    @Ctx() ctx: RequestContext,
    @Arg("input", () => RegisterThirdPartyInput, { description: "The party: name, role, country, and whether sharing with it is prohibited." })
    input: RegisterThirdPartyInput,
  ) {
    return this.parties.register(ctx, input);
  }

  @Mutation(() => ThirdParty, { description: "Lists or delists an AGENT as subprocessor; delisting suspends its agreements, relisting re-activates them." })
  @Allow(Role.OPERATOR)
  @Audited("SUBPROCESSOR_LISTING_CHANGED")
  setSubprocessorListing(
    @Ctx() ctx: RequestContext,
    @Arg("thirdPartyId", () => ID, { description: "The agent." }) thirdPartyId: string,
    @Arg("listed", { description: "True to list it as a subprocessor, false to take it off the list." }) listed: boolean,
  ) {
    return this.parties.setListing(ctx, thirdPartyId, listed);
  }

  @FieldResolver(() => ThirdParty, { description: "The agent listed or delisted." })
  async thirdParty(@Ctx() ctx: RequestContext, @Root() change: SubprocessorListChange): Promise<ThirdParty> {
    return (await this.parties.byId(ctx, change.thirdPartyId))!;
  }
}
