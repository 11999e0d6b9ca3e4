import { Check, Column, Entity, Index, PrimaryColumn } from "typeorm";
import type { DataCategory } from "../personal-data/personal-data.enums";
import type { IncidentSeverity, IncidentStatus } from "./incident.types";

@Entity("breach_incident")
// Constraints as the migrations name them, so TypeORM's schema diff sees no drift.
@Check("breach_incident_title_check", "length(title) BETWEEN 1 AND 200")
@Check("breach_incident_description_check", "length(description) BETWEEN 1 AND 5000")
@Check("breach_incident_severity_check", "severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')")
@Check("breach_incident_status_check", "status IN ('INVESTIGATING', 'CUSTOMER_REPORTABLE', 'DISMISSED', 'RESOLVED')")
@Check("breach_incident_dismissal_reason_check", "length(dismissal_reason) <= 2000")
@Check("breach_incident_resolution_check", "length(resolution) <= 2000")
@Check("breach_incident_check", "(status = 'DISMISSED') = (dismissed_at IS NOT NULL)")
@Check("breach_incident_check1", "(status = 'RESOLVED') = (resolved_at IS NOT NULL)")
@Index("breach_incident_page", ["createdAt", "id"])
export class BreachIncidentEntity {
  @PrimaryColumn("uuid") id!: string;
  @Column("text") title!: string;
  @Column("text") description!: string;
  @Column("text") severity!: IncidentSeverity;
  @Column("text") status!: IncidentStatus;
  @Column("timestamptz", { name: "detected_at" }) detectedAt!: Date;
  @Column("text", { name: "data_categories", array: true, default: () => "'{}'" }) dataCategories!: DataCategory[];
  @Column("timestamptz", { name: "declared_at", nullable: true }) declaredAt!: Date | null;
  @Column("text", { name: "dismissal_reason", nullable: true }) dismissalReason!: string | null;
  @Column("timestamptz", { name: "dismissed_at", nullable: true }) dismissedAt!: Date | null;
  @Column("text", { nullable: true }) resolution!: string | null;
  @Column("timestamptz", { name: "resolved_at", nullable: true }) resolvedAt!: Date | null;
  /** When the maintenance run raised `breach_notification.overdue` for it (once). */
  @Column("timestamptz", { name: "overdue_raised_at", nullable: true }) overdueRaisedAt!: Date | null;
  @Column("timestamptz", { name: "created_at" }) createdAt!: Date;
  @Column("timestamptz", { name: "updated_at" }) updatedAt!: Date;
}
