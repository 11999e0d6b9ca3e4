import { Ctx, Field, ID, ObjectType, Query, Resolver } from "type-graphql";
import { principalOf, type RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { ALL_ROLES, Role } from "../../shared/auth/role";

@ObjectType("Viewer", { description: "The caller, as the bearer token names them." })
export class Viewer {
  @Field({ description: "The token's subject (`sub`)." })
  subject!: string;

  @Field(() => Role, { description: "The caller's role." })
  role!: Role;

  @Field(() => ID, { nullable: true, description: "The caller's tenant; null for operators and partners." })
  tenantId!: string | null;

  @Field(() => ID, { nullable: true, description: "The caller's data subject; set for DATA_SUBJECT only." })
  dataSubjectId!: string | null;
}

@Resolver(() => Viewer)
export class ViewerResolver {
  @Query(() => Viewer, { description: "Who you are, according to your token." })
  @Allow(...ALL_ROLES)
  viewer(@Ctx() ctx: RequestContext): Viewer {
    const { subject, role, tenantId, dataSubjectId } = principalOf(ctx);
    return { subject, role, tenantId, dataSubjectId };
  }
}
