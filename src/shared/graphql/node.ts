import { Field, ID, InterfaceType } from "type-graphql";

@InterfaceType("Node", { description: "An object with a globally unique id." })
export abstract class Node {
  @Field(() => ID, { description: "The object's id." })
  id!: string;
}
