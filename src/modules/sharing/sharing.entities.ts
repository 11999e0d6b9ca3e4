import { Column, Entity, PrimaryColumn } from "typeorm";
import type { DataCategory } from "../personal-data/personal-data.enums";
import type { ProcessingPurpose } from "../purpose/processing-purpose";
import type { SharingAgreementStatus, SharingDirection } from "./sharing.types";

@Entity("sharing_agreement")
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
export class DataTransferEntity {
  @PrimaryColumn("uuid") id!: string;
  @Column("uuid", { name: "tenant_id" }) tenantId!: string;
  @Column("uuid", { name: "agreement_id" }) agreementId!: string;
  @Column("text") purpose!: ProcessingPurpose;
  @Column("uuid", { name: "record_ids", array: true }) recordIds!: string[];
  @Column("text", { array: true }) categories!: DataCategory[];
  @Column("timestamptz", { name: "created_at" }) createdAt!: Date;
}
