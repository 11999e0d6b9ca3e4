import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import { findInRegions, type RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import { PageArgs } from "../../shared/pagination";
import { Audited } from "../../shared/audit/audited";
import { PersonalDataRecord } from "../personal-data/personal-data.types";
import type { TenantService } from "../tenant/tenant.service";
import { Tenant } from "../tenant/tenant.types";
import type { ThirdPartyService } from "../third-party/third-party.service";
import { ThirdParty } from "../third-party/third-party.types";
import type { SharingService } from "./sharing.service";
import {
  AGREEMENT_VIEWERS,
  CreateSharingAgreementInput,
  DataTransfer,
  DataTransferConnection,
  RecipientNotice,
  ShareRecordsInput,
  SharingAgreement,
  SharingAgreementConnection,
  SharingAgreementStatus,
} from "./sharing.types";

@Resolver(() => SharingAgreement)
export class SharingAgreementResolver {
  constructor(
    private readonly sharing: SharingService,
    private readonly tenants: TenantService,
    private readonly parties: ThirdPartyService,
  ) {}

  @Query(() => SharingAgreement, { nullable: true, description: "An agreement by id; null when it does not exist or is outside your scope." })
  @Allow(...AGREEMENT_VIEWERS)
  sharingAgreement(@Ctx() ctx: RequestContext, @Arg("id", () => ID, { description: "The agreement's id." }) id: string) {
    return findInRegions(ctx, (on) => this.sharing.get(on, id));
  }

  @Mutation(() => SharingAgreement, {
    description: "Makes an agreement: INDEPENDENT parties start PENDING_CONSENT; agents ACTIVE while listed, else SUSPENDED.",
  })
  @Allow(Role.TENANT_ADMIN)
  @Audited("SHARING_AGREEMENT_CREATED")
  createSharingAgreement(
    @Ctx() ctx: RequestContext,
    @Arg("input", () => CreateSharingAgreementInput, { description: "The party, direction, purposes and categories of the agreement." })
    input: CreateSharingAgreementInput,
  ) {
    return this.sharing.create(ctx, input);
  }

  @Mutation(() => SharingAgreement, { description: "The tenant administrator's consent to an INDEPENDENT party's agreement." })
  @Allow(Role.TENANT_ADMIN)
  @Audited("CONSENT_GRANTED")
  grantSharingConsent(
    @Ctx() ctx: RequestContext,
    @Arg("agreementId", () => ID, { description: "The INDEPENDENT party's agreement that awaits consent." }) agreementId: string,
  ) {
    return this.sharing.grant(ctx, agreementId);
  }

  @Mutation(() => SharingAgreement, { description: "Revokes the agreement at once and for good; shares in flight finish first, later ones are refused." })
  @Allow(Role.TENANT_ADMIN)
  @Audited("CONSENT_REVOKED")
  revokeSharingConsent(
    @Ctx() ctx: RequestContext,
    @Arg("agreementId", () => ID, { description: "The agreement to revoke." }) agreementId: string,
    @Arg("reason", () => String, { description: "Why, for the audit log (optional; no personal data).", nullable: true }) reason: string | null,
  ) {
    return this.sharing.revoke(ctx, agreementId, reason);
  }

  @Mutation(() => DataTransfer, { description: "Shares 1..1000 records under an ACTIVE OUTBOUND agreement for one purpose: all or none." })
  @Allow(Role.TENANT_ADMIN, Role.INTEGRATION)
  @Audited("RECORDS_SHARED")
  // Checked by the sharing policy, which names the refused record's index.
  shareRecords(
    @Ctx() ctx: RequestContext,
    @Arg("input", () => ShareRecordsInput, { description: "The agreement, the purpose and 1-1000 record ids.", validate: false }) input: ShareRecordsInput,
  ) {
    return this.sharing.share(ctx, input);
  }

  @Mutation(() => RecipientNotice, { description: "Confirms that a recipient was told of an erasure or rectification; twice changes nothing." })
  @Allow(Role.TENANT_ADMIN, Role.INTEGRATION)
  @Audited("RECIPIENT_NOTICE_CONFIRMED")
  confirmRecipientNotice(@Ctx() ctx: RequestContext, @Arg("noticeId", () => ID, { description: "The notice whose recipient was told." }) noticeId: string) {
    return this.sharing.confirmNotice(ctx, noticeId);
  }

  @FieldResolver(() => Tenant, { description: "The tenant whose data flows." })
  async tenant(@Ctx() ctx: RequestContext, @Root() agreement: SharingAgreement): Promise<Tenant> {
    return (await this.tenants.byId(ctx, agreement.tenantId))!;
  }

  @FieldResolver(() => ThirdParty, { description: "The third party." })
  async thirdParty(@Ctx() ctx: RequestContext, @Root() agreement: SharingAgreement): Promise<ThirdParty> {
    return (await this.parties.byId(ctx, agreement.thirdPartyId))!;
  }

  @FieldResolver(() => DataTransferConnection, { description: "What was shared under the agreement, oldest first." })
  @Allow(...AGREEMENT_VIEWERS)
  transfers(@Ctx() ctx: RequestContext, @Root() agreement: SharingAgreement, @Args() page: PageArgs) {
    return this.sharing.transfers(ctx, agreement.id, page);
  }

  @FieldResolver(() => [RecipientNotice], { description: "Erasures and rectifications its recipient must still be told of (DOMAIN rule 21)." })
  @Allow(...AGREEMENT_VIEWERS)
  openNotices(@Ctx() ctx: RequestContext, @Root() agreement: SharingAgreement) {
    return this.sharing.openNotices(ctx, agreement.id);
  }
}

@Resolver(() => DataTransfer)
export class DataTransferResolver {
  constructor(private readonly sharing: SharingService) {}

  @FieldResolver(() => SharingAgreement, { description: "The agreement the records went under." })
  async agreement(@Ctx() ctx: RequestContext, @Root() transfer: DataTransfer): Promise<SharingAgreement> {
    return (await this.sharing.byId(ctx, transfer.agreementId))!;
  }
}

@Resolver(() => RecipientNotice)
export class RecipientNoticeResolver {
  constructor(private readonly sharing: SharingService) {}

  @FieldResolver(() => SharingAgreement, { description: "The agreement whose recipient must be told." })
  async agreement(@Ctx() ctx: RequestContext, @Root() notice: RecipientNotice): Promise<SharingAgreement> {
    return (await this.sharing.byId(ctx, notice.agreementId))!;
  }
}

@Resolver(() => Tenant)
export class TenantAgreementsResolver {
  constructor(private readonly sharing: SharingService) {}

  @FieldResolver(() => SharingAgreementConnection, { description: "The tenant's sharing agreements, oldest first." })
  @Allow(...AGREEMENT_VIEWERS)
  sharingAgreements(
    @Ctx() ctx: RequestContext,
    @Root() tenant: Tenant,
    @Args() page: PageArgs,
    @Arg("status", () => SharingAgreementStatus, { nullable: true, description: "Only agreements in this status." }) status: SharingAgreementStatus | null,
  ) {
    return this.sharing.list(ctx, tenant.id, page, status);
  }
}

@Resolver(() => PersonalDataRecord)
export class RecordTransfersResolver {
  constructor(private readonly sharing: SharingService) {}

  @FieldResolver(() => [DataTransfer], { description: "The transfers that included this record." })
  transfers(@Ctx() ctx: RequestContext, @Root() record: PersonalDataRecord): Promise<DataTransfer[]> {
    return this.sharing.transfersOfRecord(ctx, record.id);
  }
}
