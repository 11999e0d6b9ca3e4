import { GraphQLScalarType } from "graphql";
import { JSONObjectResolver } from "graphql-scalars";

/** The contract's JSONObject: graphql-scalars' scalar, described as the contract describes it. */
export const JSONObject = new GraphQLScalarType({
  ...JSONObjectResolver.toConfig(),
  description: "A JSON object (graphql-scalars JSONObject).",
});
