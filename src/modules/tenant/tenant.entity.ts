import { Check, Column, Entity, ForeignKey, Index, PrimaryColumn, Unique } from "typeorm";
import type { SubscriptionStatus } from "./tenant.policy";

/** A customer tenant. The row outlives a purge as a tombstone that holds no personal data. */
@Entity("tenant")
// Constraints as the migrations name them, so TypeORM's schema diff sees no drift.
@Check("tenant_name_check", "length(name) BETWEEN 1 AND 200")
@Check("tenant_subscription_status_check", "subscription_status IN ('ACTIVE', 'ENDED', 'PURGED')")
@Check("tenant_deletion_grace_days_check", "deletion_grace_days BETWEEN 1 AND 30")
@Check("tenant_audit_log_retention_days_check", "audit_log_retention_days BETWEEN 1 AND 365")
@Index("tenant_created_at_id", ["createdAt", "id"])
// The target of the composite foreign keys that keep a tenant's rows in its location.
@Unique("tenant_id_location", ["id", "storageLocationCode"])
@ForeignKey("storage_location", ["storageLocationCode"], ["code"], { name: "tenant_storage_location_code_fkey" })
export class TenantEntity {
  @PrimaryColumn("uuid")
  id!: string;

  @Column("text")
  name!: string;

  @Column("text", { name: "storage_location_code" })
  storageLocationCode!: string;

  @Column("text", { name: "subscription_status", default: "ACTIVE" })
  subscriptionStatus!: SubscriptionStatus;

  @Column("timestamptz", { name: "subscription_ended_at", nullable: true })
  subscriptionEndedAt!: Date | null;

  @Column("timestamptz", { name: "data_purge_due_at", nullable: true })
  dataPurgeDueAt!: Date | null;

  @Column("integer", { name: "deletion_grace_days", default: 30 })
  deletionGraceDays!: number;

  @Column("integer", { name: "audit_log_retention_days", default: 365 })
  auditLogRetentionDays!: number;

  @Column("timestamptz", { name: "created_at" })
  createdAt!: Date;

  @Column("timestamptz", { name: "updated_at" })
  updatedAt!: Date;

  @Column("integer", { default: 1 })
  version!: number;
}
