import { Check, Column, Entity, ForeignKey, Index, PrimaryColumn } from "typeorm";
import type { DataCategory } from "../personal-data/personal-data.enums";
import type { ProcessingPurpose } from "../purpose/processing-purpose";
import type { SharingAgreementStatus, SharingDirection } from "./sharing.types";

const CATEGORIES = "ARRAY['IDENTITY', 'CONTACT', 'DEVICE', 'APP_INVENTORY', 'LOCATION', 'NETWORK', 'DIAGNOSTIC']::text[]";
const PURPOSES = "ARRAY['SERVICE_OPERATION', 'SUPPORT', 'SERVICE_MAINTENANCE', 'SECURITY', 'LEGAL_OBLIGATION']::text[]";

@Entity("sharing_agreement")
// Constraints as the migrations name them, so TypeORM's schema diff sees no drift.
@Check("sharing_agreement_feature_check", "length(feature) BETWEEN 1 AND 200")
@Check("sharing_agreement_direction_check", "direction IN ('OUTBOUND', 'INBOUND')")
@Check("sharing_agreement_data_categories_check", `cardinality(data_categories) > 0 AND data_categories <@ ${CATEGORIES}`)
@Check("sharing_agreement_purposes_check", `cardinality(purposes) > 0 AND purposes <@ ${PURPOSES}`)
@Check("sharing_agreement_status_check", "status IN ('PENDING_CONSENT', 'ACTIVE', 'SUSPENDED', 'REVOKED')")
@Check("sharing_agreement_tenant_contract_reference_check", "length(tenant_contract_reference) <= 200")
@Check("sharing_agreement_revocation_reason_check", "length(revocation_reason) <= 500")
@Check("sharing_agreement_check", "(status = 'REVOKED') = (revoked_at IS NOT NULL)")
@Index("sharing_agreement_page", ["tenantId", "createdAt", "id"])
@Index("sharing_agreement_party", ["thirdPartyId", "status"])
@ForeignKey("tenant", ["tenantId"], ["id"], { name: "sharing_agreement_tenant_id_fkey" })
@ForeignKey("third_party", ["thirdPartyId"], ["id"], { name: "sharing_agreement_third_party_id_fkey" })
export class SharingAgreementEntity {
  @PrimaryColumn("uuid") id!: string;
  @Column("uuid", { name: "tenant_id" }) tenantId!: string;
  @Column("uuid", { name: "third_party_id" }) thirdPartyId!: string;
  @Column("text") feature!: string;
  @Column("text") direction!: SharingDirection;
  @Column("text", { name: "data_categories", array: true }) dataCategories!: DataCategory[];
  @Column("text", { array: true }) purposes!: ProcessingPurpose[];
  @Column("text") status!: SharingAgreementStatus;
  @Column("text", { name: "tenant_contract_reference", nullable: true }) tenantContractReference!: string | null;
  @Column("text", { name: "consent_granted_by", nullable: true }) consentGrantedBy!: string | null;
  @Column("timestamptz", { name: "consent_granted_at", nullable: true }) consentGrantedAt!: Date | null;
  @Column("text", { name: "consent_categories", array: true, nullable: true }) consentCategories!: DataCategory[] | null;
  @Column("text", { name: "consent_purposes", array: true, nullable: true }) consentPurposes!: ProcessingPurpose[] | null;
  @Column("text", { name: "revoked_by", nullable: true }) revokedBy!: string | null;
  @Column("timestamptz", { name: "revoked_at", nullable: true }) revokedAt!: Date | null;
  @Column("text", { name: "revocation_reason", nullable: true }) revocationReason!: string | null;
  @Column("timestamptz", { name: "created_at" }) createdAt!: Date;
  @Column("timestamptz", { name: "updated_at" }) updatedAt!: Date;
}

@Entity("data_transfer")
@Check("data_transfer_record_ids_check", "cardinality(record_ids) BETWEEN 1 AND 1000")
@Index("data_transfer_page", ["agreementId", "createdAt", "id"])
@Index("data_transfer_records", ["recordIds"], { type: "gin" })
@ForeignKey("tenant", ["tenantId"], ["id"], { name: "data_transfer_tenant_id_fkey" })
@ForeignKey("sharing_agreement", ["agreementId"], ["id"], { name: "data_transfer_agreement_id_fkey" })
export class DataTransferEntity {
  @PrimaryColumn("uuid") id!: string;
  @Column("uuid", { name: "tenant_id" }) tenantId!: string;
  @Column("uuid", { name: "agreement_id" }) agreementId!: string;
  @Column("text") purpose!: ProcessingPurpose;
  @Column("uuid", { name: "record_ids", array: true }) recordIds!: string[];
  @Column("text", { array: true }) categories!: DataCategory[];
  @Column("timestamptz", { name: "created_at" }) createdAt!: Date;
}
