import { Check, Column, Entity, ForeignKey, Index, PrimaryColumn, Unique } from "typeorm";
import type { DataSubjectStatus } from "./data-subject.status";

/** A person whose data one tenant holds. externalId and displayName are personal data, sealed under the subject's key. */
@Entity("data_subject")
// Constraints as the migrations name them, so TypeORM's schema diff sees no drift.
@Check("data_subject_external_id_check", "length(external_id) BETWEEN 1 AND 255")
@Check("data_subject_display_name_check", "length(display_name) BETWEEN 1 AND 200")
@Check("data_subject_status_check", "status IN ('ACTIVE', 'DELETED')")
@Check("data_subject_check", "(status = 'DELETED') = (deleted_at IS NOT NULL AND purge_due_at IS NOT NULL)")
@Check(
  "data_subject_sealed_check",
  "(external_id IS NULL) = (external_id_sealed IS NOT NULL) AND (external_id_sealed IS NULL) = (external_id_index IS NULL) AND (display_name_sealed IS NULL OR display_name IS NULL)",
)
@Unique("data_subject_tenant_id_external_id_index_key", ["tenantId", "externalIdIndex"])
// (tenant_id, id): the target of the records' foreign key, so a record's subject is its tenant's.
@Unique("data_subject_tenant_id_id_key", ["tenantId", "id"])
@Unique("data_subject_tenant_id_external_id_key", ["tenantId", "externalId"])
@Index("data_subject_page", ["tenantId", "createdAt", "id"])
@Index("data_subject_plaintext", ["tenantId", "createdAt", "id"], { where: "external_id IS NOT NULL OR display_name IS NOT NULL" })
@ForeignKey("tenant", ["tenantId"], ["id"], { name: "data_subject_tenant_id_fkey" })
export class DataSubjectEntity {
  @PrimaryColumn("uuid")
  id!: string;

  @Column("uuid", { name: "tenant_id" })
  tenantId!: string;

  /** Written before identifiers were sealed (null once sealed). */
  @Column("text", { name: "external_id", nullable: true })
  externalId!: string | null;

  @Column("text", { name: "display_name", nullable: true })
  displayName!: string | null;

  /** The external id sealed under the subject's key (src/modules/keys). */
  @Column("bytea", { name: "external_id_sealed", nullable: true })
  externalIdSealed!: Buffer | null;

  @Column("bytea", { name: "display_name_sealed", nullable: true })
  displayNameSealed!: Buffer | null;

  /** The external id's keyed blind index (HMAC under the tenant's index key): its uniqueness in the tenant, without the plaintext. */
  @Column("text", { name: "external_id_index", nullable: true })
  externalIdIndex!: string | null;

  @Column("text", { default: "ACTIVE" })
  status!: DataSubjectStatus;

  @Column("timestamptz", { name: "deleted_at", nullable: true })
  deletedAt!: Date | null;

  @Column("timestamptz", { name: "purge_due_at", nullable: true })
  purgeDueAt!: Date | null;

  @Column("timestamptz", { name: "created_at" })
  createdAt!: Date;

  @Column("timestamptz", { name: "updated_at" })
  updatedAt!: Date;
}
