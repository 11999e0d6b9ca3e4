import { Column, Entity, PrimaryColumn } from "typeorm";
import type { DataCategory } from "../personal-data/personal-data.enums";
import type { IncidentSeverity, IncidentStatus } from "./incident.types";

@Entity("breach_incident")
export class BreachIncidentEntity {
  @PrimaryColumn("uuid") id!: string;
  @Column("text") title!: string;
  @Column("text") description!: string;
  @Column("text") severity!: IncidentSeverity;
  @Column("text") status!: IncidentStatus;
  @Column("timestamptz", { name: "detected_at" }) detectedAt!: Date;
  @Column("text", { name: "data_categories", array: true }) dataCategories!: DataCategory[];
  @Column("timestamptz", { name: "declared_at", nullable: true }) declaredAt!: Date | null;
  @Column("text", { name: "dismissal_reason", nullable: true }) dismissalReason!: string | null;
  @Column("timestamptz", { name: "dismissed_at", nullable: true }) dismissedAt!: Date | null;
  @Column("text", { nullable: true }) resolution!: string | null;
  @Column("timestamptz", { name: "resolved_at", nullable: true }) resolvedAt!: Date | null;
  @Column("timestamptz", { name: "created_at" }) createdAt!: Date;
  @Column("timestamptz", { name: "updated_at" }) updatedAt!: Date;
}
