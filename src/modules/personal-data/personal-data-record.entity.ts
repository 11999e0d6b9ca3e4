import { Check, Column, Entity, ForeignKey, Index, PrimaryColumn } from "typeorm";
import type { ProcessingPurpose } from "../purpose/processing-purpose";
import type { DataCategory, DeletionReason, RecordStatus } from "./personal-data.enums";

/**
 * One piece of personal data. `value` is never selected by list queries (select: false): only
 * the purpose-bound value reader loads it, by id or read ahead with the record's page (its
 * READ_AHEAD columns), so no other path can hand it out by accident.
 */
@Entity("personal_data_record")
// Constraints as the migrations name them, so TypeORM's schema diff sees no drift.
@Check("personal_data_record_category_check", "category IN ('IDENTITY', 'CONTACT', 'DEVICE', 'APP_INVENTORY', 'LOCATION', 'NETWORK', 'DIAGNOSTIC')")
@Check(
  "personal_data_record_purposes_check",
  "cardinality(purposes) > 0 AND purposes <@ ARRAY['SERVICE_OPERATION', 'SUPPORT', 'SERVICE_MAINTENANCE', 'SECURITY', 'LEGAL_OBLIGATION']::text[]",
)
@Check("personal_data_record_value_check", "jsonb_typeof(value) = 'object'")
@Check("personal_data_record_sealed_check", "(value IS NULL) = (value_sealed IS NOT NULL) AND (value_sealed IS NULL) = (value_key_version IS NULL)")
@Check("personal_data_record_status_check", "status IN ('ACTIVE', 'PENDING_DELETION')")
@Check("personal_data_record_deletion_reason_check", "deletion_reason IN ('ACTIVE_DELETION', 'PASSIVE_DELETION')")
@Check(
  "personal_data_record_check",
  "(status = 'PENDING_DELETION') = (deletion_reason IS NOT NULL AND deletion_requested_at IS NOT NULL AND purge_due_at IS NOT NULL)",
)
@Index("personal_data_record_page", ["tenantId", "createdAt", "id"])
@Index("personal_data_record_subject", ["dataSubjectId", "createdAt", "id"])
@Index("personal_data_record_due", ["tenantId", "purgeDueAt"], { where: "status = 'PENDING_DELETION'" })
@Index("personal_data_record_plaintext", ["tenantId", "createdAt", "id"], { where: "value IS NOT NULL" })
// A record's subject is its tenant's, and its location is its tenant's (DOMAIN rule 2).
@ForeignKey("data_subject", ["tenantId", "dataSubjectId"], ["tenantId", "id"], { name: "personal_data_record_tenant_id_data_subject_id_fkey" })
@ForeignKey("tenant", ["tenantId", "storageLocationCode"], ["id", "storageLocationCode"], { name: "personal_data_record_tenant_id_storage_location_code_fkey" })
@ForeignKey("third_party", ["sourceThirdPartyId"], ["id"], { name: "personal_data_record_source" })
export class PersonalDataRecordEntity {
  @PrimaryColumn("uuid")
  id!: string;

  @Column("uuid", { name: "tenant_id" })
  tenantId!: string;

  @Column("uuid", { name: "data_subject_id" })
  dataSubjectId!: string;

  @Column("text")
  category!: DataCategory;

  @Column("text", { array: true })
  purposes!: ProcessingPurpose[];

  @Column("text", { name: "storage_location_code" })
  storageLocationCode!: string;

  @Column("uuid", { name: "source_third_party_id", nullable: true })
  sourceThirdPartyId!: string | null;

  /** A value written before values were sealed (null once sealed). */
  @Column("jsonb", { select: false, nullable: true })
  value?: Record<string, unknown> | null;

  /** The value sealed under the record's key of `valueKeyVersion` (src/modules/keys). */
  @Column("bytea", { name: "value_sealed", select: false, nullable: true })
  valueSealed?: Buffer | null;

  @Column("integer", { name: "value_key_version", select: false, nullable: true })
  valueKeyVersion?: number | null;

  @Column("text", { default: "ACTIVE" })
  status!: RecordStatus;

  @Column("text", { name: "deletion_reason", nullable: true })
  deletionReason!: DeletionReason | null;

  @Column("timestamptz", { name: "deletion_requested_at", nullable: true })
  deletionRequestedAt!: Date | null;

  @Column("timestamptz", { name: "purge_due_at", nullable: true })
  purgeDueAt!: Date | null;

  @Column("integer", { default: 1 })
  version!: number;

  @Column("timestamptz", { name: "created_at" })
  createdAt!: Date;

  @Column("timestamptz", { name: "updated_at" })
  updatedAt!: Date;
}
