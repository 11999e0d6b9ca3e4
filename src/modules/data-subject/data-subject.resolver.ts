import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import { findInRegions, type RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { PageArgs } from "../../shared/pagination";
import { Audited } from "../../shared/audit/audited";
import type { TenantService } from "../tenant/tenant.service";
import { Tenant } from "../tenant/tenant.types";
import type { DataSubjectService } from "./data-subject.service";
import { DataSubjectStatus } from "./data-subject.status";
import { DATA_VIEWERS } from "./data-viewers";
import { DataSubject, DataSubjectConnection, RegisterDataSubjectInput, SUBJECT_IDENTITY_READERS } from "./data-subject.types";

@Resolver(() => DataSubject)
export class DataSubjectResolver {
  constructor(
    private readonly subjects: DataSubjectService,
    private readonly tenants: TenantService,
  ) {}

  // Opened from their seal (the subject's key) only for a role that may read them.
  @FieldResolver()
  @Allow(...SUBJECT_IDENTITY_READERS)
  async externalId(@Ctx() ctx: RequestContext, @Root() subject: DataSubject): Promise<string> {
    return (await this.subjects.identity(ctx, subject)).externalId;
  }

  @FieldResolver()
  @Allow(...SUBJECT_IDENTITY_READERS)
  async displayName(@Ctx() ctx: RequestContext, @Root() subject: DataSubject): Promise<string | null> {
    return (await this.subjects.identity(ctx, subject)).displayName;
  }

  @Query(() => DataSubject, {
    nullable: true,
    description: "A data subject by id; null when it does not exist or is outside your scope (a data subject sees only itself).",
  })
  @Allow(...DATA_VIEWERS)
  dataSubject(@Ctx() ctx: RequestContext, @Arg("id", () => ID, { description: "The data subject's id." }) id: string) {
    return findInRegions(ctx, (on) => this.subjects.get(on, id));
  }

  @Mutation(() => DataSubject, { description: "Registers a person the tenant holds data about." })
  @Allow(Role.TENANT_ADMIN, Role.INTEGRATION)
  @Audited("DATA_SUBJECT_REGISTERED")
  registerDataSubject(
    @Ctx() ctx: RequestContext,
    @Arg("input", () => RegisterDataSubjectInput, {
      description: "The person: tenant, external id and display name (personal data: never echoed in an error).",
    })
    input: RegisterDataSubjectInput,
  ) {
    return this.subjects.register(ctx, input);
  }

  @Mutation(() => DataSubject, { description: "Active deletion of a person: the subject and all its records become pending deletion." })
  @Allow(Role.TENANT_ADMIN)
  @Audited("DATA_SUBJECT_DELETED")
  deleteDataSubject(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { description: "The data subject to delete, with every record (purged after the tenant's grace period)." }) id: string,
  ) {
    return this.subjects.delete(ctx, id);
  }

  @FieldResolver(() => Tenant, { description: "The tenant that holds the person's data." })
  async tenant(@Ctx() ctx: RequestContext, @Root() subject: DataSubject): Promise<Tenant> {
    return (await this.tenants.byId(ctx, subject.tenantId))!;
  }
}

@Resolver(() => Tenant)
export class TenantDataSubjectsResolver {
  constructor(private readonly subjects: DataSubjectService) {}

  @FieldResolver(() => DataSubjectConnection, { description: "The tenant's data subjects, oldest first." })
  @Allow(Role.OPERATOR, Role.TENANT_ADMIN, Role.INTEGRATION, Role.AUDITOR)
  dataSubjects(
    @Ctx() ctx: RequestContext,
    @Root() tenant: Tenant,
    @Args() page: PageArgs,
    @Arg("status", () => DataSubjectStatus, { nullable: true, description: "Only ACTIVE or only DELETED subjects." }) status: DataSubjectStatus | null,
  ) {
    return this.subjects.list(ctx, tenant.id, page, status);
  }
}
