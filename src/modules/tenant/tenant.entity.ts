import { Column, Entity, PrimaryColumn } from "typeorm";
import type { SubscriptionStatus } from "./tenant.policy";

/** A customer tenant. The row outlives a purge as a tombstone that holds no personal data. */
@Entity("tenant")
export class TenantEntity {
  @PrimaryColumn("uuid")
  id!: string;

  @Column("text")
  name!: string;

  @Column("text", { name: "storage_location_code" })
  storageLocationCode!: string;

  @Column("text", { name: "subscription_status" })
  subscriptionStatus!: SubscriptionStatus;

  @Column("timestamptz", { name: "subscription_ended_at", nullable: true })
  subscriptionEndedAt!: Date | null;

  @Column("timestamptz", { name: "data_purge_due_at", nullable: true })
  dataPurgeDueAt!: Date | null;

  @Column("integer", { name: "deletion_grace_days" })
  deletionGraceDays!: number;

  @Column("integer", { name: "audit_log_retention_days" })
  auditLogRetentionDays!: number;

  @Column("timestamptz", { name: "created_at" })
  createdAt!: Date;

  @Column("timestamptz", { name: "updated_at" })
  updatedAt!: Date;

  @Column("integer")
  version!: number;
}
