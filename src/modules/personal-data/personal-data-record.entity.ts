import { Column, Entity, PrimaryColumn } from "typeorm";
import type { ProcessingPurpose } from "../purpose/processing-purpose";
import type { DataCategory, DeletionReason, RecordStatus } from "./personal-data.enums";

/**
 * One piece of personal data. `value` is never selected by list queries (select: false): only
 * the purpose-bound value reader loads it, by id or read ahead with the record's page (its
 * READ_AHEAD columns), so no other path can hand it out by accident.
 */
@Entity("personal_data_record")
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

  @Column("jsonb", { select: false })
  value?: Record<string, unknown>;

  @Column("text")
  status!: RecordStatus;

  @Column("text", { name: "deletion_reason", nullable: true })
  deletionReason!: DeletionReason | null;

  @Column("timestamptz", { name: "deletion_requested_at", nullable: true })
  deletionRequestedAt!: Date | null;

  @Column("timestamptz", { name: "purge_due_at", nullable: true })
  purgeDueAt!: Date | null;

  @Column("integer")
  version!: number;

  @Column("timestamptz", { name: "created_at" })
  createdAt!: Date;

  @Column("timestamptz", { name: "updated_at" })
  updatedAt!: Date;
}
