import { Arg, Ctx, Mutation, Query, Resolver } from "type-graphql";
import type { RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { ALL_ROLES, Role } from "../../shared/auth/role";
import { Audited } from "../../shared/audit/audited";
import { StorageLocation } from "./storage-location.entity";
import { CreateStorageLocationInput } from "./storage-location.inputs";
import { StorageLocationService } from "./storage-location.service";

@Resolver(() => StorageLocation)
export class StorageLocationResolver {
  constructor(private readonly locations: StorageLocationService) {}

  @Query(() => [StorageLocation], { description: "The geographies a tenant can choose for its data (public reference data)." })
  @Allow(...ALL_ROLES)
  storageLocations(@Ctx() ctx: RequestContext) {
    return this.locations.list(ctx);
  }

  @Mutation(() => StorageLocation, { description: "Adds a geography (operators only)." })
  @Allow(Role.OPERATOR)
  @Audited("STORAGE_LOCATION_CREATED")
  createStorageLocation(
    @Ctx() ctx: RequestContext,
    @Arg("input", () => CreateStorageLocationInput, { description: "The new location: code, name and data-centre countries. Its database is created with it." })
    input: CreateStorageLocationInput,
  ) {
    return this.locations.create(ctx, input);
  }
}
