import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../../context";
import { Audited } from "../../shared/audit/audited";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { PageArgs } from "../../shared/pagination";
import type { DataSubjectService } from "../data-subject/data-subject.service";
import { DataSubject } from "../data-subject/data-subject.types";
import { RecipientNotice } from "../sharing/sharing.types";
import type { SharingNodes } from "../sharing/sharing.service";
import type { TenantService } from "../tenant/tenant.service";
import { Tenant } from "../tenant/tenant.types";
import type { SubjectRequestService } from "./subject-request.service";
import { OpenSubjectRequestInput, REQUEST_READERS, SubjectRequest, SubjectRequestConnection, SubjectRequestStatus } from "./subject-request.types";

const requestId = () => Arg("requestId", () => ID, { description: "The subject request." });

@Resolver(() => SubjectRequest)
export class SubjectRequestResolver {
  constructor(
    private readonly requests: SubjectRequestService,
    private readonly subjects: DataSubjectService,
    private readonly tenants: TenantService,
    private readonly notices: SharingNodes,
  ) {}

  @Query(() => SubjectRequest, { nullable: true, description: "A subject request by id; null when it does not exist or is outside your scope." })
  @Allow(...REQUEST_READERS)
  subjectRequest(@Ctx() ctx: RequestContext, @Arg("id", () => ID, { description: "The subject request's id." }) id: string) {
    return this.requests.get(ctx, id);
  }

  @Mutation(() => SubjectRequest, { description: "A data subject for themselves, or a TENANT_ADMIN for a subject of the tenant." })
  @Allow(Role.DATA_SUBJECT, Role.TENANT_ADMIN)
  @Audited("SUBJECT_REQUEST_OPENED")
  openSubjectRequest(
    @Ctx() ctx: RequestContext,
    @Arg("input", () => OpenSubjectRequestInput, { description: "The subject, the kind of request and when it was received." }) input: OpenSubjectRequestInput,
  ) {
    return this.requests.open(ctx, input);
  }

  @Mutation(() => SubjectRequest, { description: "TENANT_ADMIN: asks for proof of identity; status AWAITING_IDENTITY." })
  @Allow(Role.TENANT_ADMIN)
  @Audited("SUBJECT_IDENTITY_REQUESTED")
  requestSubjectIdentity(@Ctx() ctx: RequestContext, @requestId() id: string) {
    return this.requests.requestIdentity(ctx, id);
  }

  @Mutation(() => SubjectRequest, { description: "TENANT_ADMIN: identity confirmed; the clock restarts now." })
  @Allow(Role.TENANT_ADMIN)
  @Audited("SUBJECT_IDENTITY_CONFIRMED")
  confirmSubjectIdentity(@Ctx() ctx: RequestContext, @requestId() id: string) {
    return this.requests.confirmIdentity(ctx, id);
  }

  @Mutation(() => SubjectRequest, { description: "TENANT_ADMIN: once, before the due date, with a reason: due three months from the clock's start." })
  @Allow(Role.TENANT_ADMIN)
  @Audited("SUBJECT_REQUEST_EXTENDED")
  extendSubjectRequest(
    @Ctx() ctx: RequestContext,
    @requestId() id: string,
    @Arg("reason", { description: "Why, as the subject will read it." }) reason: string,
  ) {
    return this.requests.extend(ctx, id, reason);
  }

  @Mutation(() => SubjectRequest, {
    description: "TENANT_ADMIN: ERASURE deletes the subject in the same transaction; ACCESS and PORTABILITY need an export made after opening.",
  })
  @Allow(Role.TENANT_ADMIN)
  @Audited("SUBJECT_REQUEST_COMPLETED")
  completeSubjectRequest(@Ctx() ctx: RequestContext, @requestId() id: string) {
    return this.requests.complete(ctx, id);
  }

  @Mutation(() => SubjectRequest, { description: "TENANT_ADMIN: with the reason the subject will read (Art. 12(4))." })
  @Allow(Role.TENANT_ADMIN)
  @Audited("SUBJECT_REQUEST_REJECTED")
  rejectSubjectRequest(
    @Ctx() ctx: RequestContext,
    @requestId() id: string,
    @Arg("reason", { description: "Why, as the subject will read it." }) reason: string,
  ) {
    return this.requests.reject(ctx, id, reason);
  }

  @FieldResolver(() => Tenant, { description: "The tenant that must answer the request." })
  async tenant(@Ctx() ctx: RequestContext, @Root() request: SubjectRequest): Promise<Tenant> {
    return (await this.tenants.byId(ctx, request.tenantId))!;
  }

  @FieldResolver(() => DataSubject, { nullable: true, description: "Null once the subject has been purged." })
  dataSubject(@Ctx() ctx: RequestContext, @Root() request: SubjectRequest) {
    return this.subjects.byId(ctx, request.dataSubjectId);
  }

  @FieldResolver(() => String, { nullable: true, description: "Why the request was extended, as the subject reads it." })
  extensionReason(@Ctx() ctx: RequestContext, @Root() request: SubjectRequest) {
    return this.requests.reason(ctx, request, "extensionReason");
  }

  @FieldResolver(() => String, { nullable: true, description: "Why the request was rejected (Art. 12(4)), as the subject reads it." })
  rejectionReason(@Ctx() ctx: RequestContext, @Root() request: SubjectRequest) {
    return this.requests.reason(ctx, request, "rejectionReason");
  }

  @FieldResolver(() => Boolean, { description: "Due date passed and still OPEN." })
  overdue(@Ctx() ctx: RequestContext, @Root() request: SubjectRequest) {
    return this.requests.overdue(ctx, request);
  }

  @FieldResolver(() => [RecipientNotice], { description: "For ERASURE and RECTIFICATION: the notices to recipients that completing it opened (rule 21)." })
  recipientNotices(@Ctx() ctx: RequestContext, @Root() request: SubjectRequest) {
    return this.notices.ofTenant(ctx, request.tenantId, request.recipientNoticeIds);
  }
}

@Resolver(() => Tenant)
export class TenantSubjectRequestsResolver {
  constructor(private readonly requests: SubjectRequestService) {}

  @FieldResolver(() => SubjectRequestConnection, { description: "The tenant's subject requests, oldest first (a data subject sees its own)." })
  @Allow(...REQUEST_READERS)
  subjectRequests(
    @Ctx() ctx: RequestContext,
    @Root() tenant: Tenant,
    @Args() page: PageArgs,
    @Arg("status", () => SubjectRequestStatus, { nullable: true, description: "Only requests in this status." }) status: SubjectRequestStatus | null,
    @Arg("overdue", () => Boolean, { nullable: true, description: "Only overdue (true) or only not overdue (false) requests." }) overdue: boolean | null,
  ) {
    return this.requests.list(ctx, tenant.id, page, { status, overdue });
  }
}

@Resolver(() => DataSubject)
export class DataSubjectRequestsResolver {
  constructor(private readonly service: SubjectRequestService) {}

  @FieldResolver(() => [SubjectRequest], { description: "The subject's requests, oldest first." })
  @Allow(...REQUEST_READERS)
  requests(@Ctx() ctx: RequestContext, @Root() subject: DataSubject) {
    return this.service.ofSubject(ctx, subject.id);
  }
}
