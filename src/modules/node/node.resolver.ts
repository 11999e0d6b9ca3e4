import { Arg, Ctx, ID, Query, Resolver } from "type-graphql";
import type { RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { ALL_ROLES } from "../../shared/auth/role";
import { BadUserInputError } from "../../shared/errors";
import { Node } from "../../shared/graphql/node";
import { findNodes, MAX_NODE_IDS, type NodeSource } from "./node-lookup";

/**
 * Relay's object identification: any object by its id, visible exactly when the caller reaches
 * it through the API's other fields (each type's source applies that field's roles and scope),
 * so `node` reveals nothing those fields do not. Open to every role: what a role may not reach
 * is null, as `tenant(id:)` answers outside the caller's scope.
 */
@Resolver()
export class NodeResolver {
  constructor(private readonly sources: ReadonlyArray<NodeSource<RequestContext>>) {}

  @Query(() => Node, {
    nullable: true,
    description:
      "Any object by its id, authorized as the field that reaches it; null when it does not exist or is outside the caller's scope (as tenant(id:) is).",
  })
  @Allow(...ALL_ROLES)
  async node(@Ctx() ctx: RequestContext, @Arg("id", () => ID, { description: "The object's id, as any field gave it." }) id: string): Promise<Node | null> {
    const [found] = await findNodes<RequestContext, Node>(ctx, this.sources, [id]);
    return found;
  }

  @Query(() => [Node], {
    nullable: "items",
    description: `Objects by id (at most ${MAX_NODE_IDS}), in the order asked; null where not found or outside the caller's scope.`,
    // Each id costs what one object's selection costs.
    complexity: ({ args, childComplexity }) => 1 + (Array.isArray(args.ids) ? Math.max(args.ids.length, 1) : 1) * Math.max(childComplexity, 1),
  })
  @Allow(...ALL_ROLES)
  nodes(
    @Ctx() ctx: RequestContext,
    @Arg("ids", () => [ID], { description: `The objects' ids, at most ${MAX_NODE_IDS}; an id may repeat.` }) ids: string[],
  ): Promise<Array<Node | null>> {
    if (ids.length > MAX_NODE_IDS) throw new BadUserInputError("ids", `At most ${MAX_NODE_IDS} ids at once; ${ids.length} were given.`);
    return findNodes<RequestContext, Node>(ctx, this.sources, ids);
  }
}
