import { Column, Entity, PrimaryColumn } from "typeorm";
import type { DataSubjectStatus } from "./data-subject.status";

/** A person whose data one tenant holds. externalId and displayName are personal data. */
@Entity("data_subject")
export class DataSubjectEntity {
  @PrimaryColumn("uuid")
  id!: string;

  @Column("uuid", { name: "tenant_id" })
  tenantId!: string;

  @Column("text", { name: "external_id" })
  externalId!: string;

  @Column("text", { name: "display_name", nullable: true })
  displayName!: string | null;

  @Column("text")
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
