import { Check, Column, Entity, ForeignKey, Index, PrimaryColumn } from "typeorm";

/**
 * The transactional outbox: one row per committed event, written in the transaction of the
 * change it reports. A tenant's events live in its region database, the operators' (no tenant)
 * in control. The payload is thin: ids, states, counts and times, never a personal-data value.
 */
@Entity("event")
@Check("event_type_check", "length(type) BETWEEN 1 AND 100")
@Index("event_tenant_page", ["tenantId", "occurredAt", "id"])
@Index("event_age", ["occurredAt"])
export class EventEntity {
  @PrimaryColumn("uuid") id!: string;
  /** Null for operator events. */
  @Column("uuid", { name: "tenant_id", nullable: true }) tenantId!: string | null;
  /** The EventType's name (SUBJECT_REQUEST_OPENED); the wire name is derived. */
  @Column("text") type!: string;
  @Column("timestamptz", { name: "occurred_at" }) occurredAt!: Date;
  @Column("jsonb") data!: Record<string, unknown>;
}

/** Where a tenant's (or the operators') events are pushed, signed with the endpoint's secret. */
@Entity("webhook_endpoint")
@Check("webhook_endpoint_url_check", "length(url) BETWEEN 1 AND 2048")
@Check("webhook_endpoint_event_types_check", "cardinality(event_types) > 0")
@Check("webhook_endpoint_disabled_check", "enabled = (disabled_reason IS NULL)")
@Check(
  "webhook_endpoint_sealed_secret_check",
  "(secret IS NULL) <> (secret_sealed IS NULL) AND (previous_secret IS NULL OR previous_secret_sealed IS NULL) AND (secret_sealed IS NULL) = (secret_master_version IS NULL) AND (previous_secret_sealed IS NULL) = (previous_secret_master_version IS NULL)",
)
@Index("webhook_endpoint_owner", ["tenantId", "createdAt", "id"])
export class WebhookEndpointEntity {
  @PrimaryColumn("uuid") id!: string;
  @Column("uuid", { name: "tenant_id", nullable: true }) tenantId!: string | null;
  @Column("text") url!: string;
  @Column("text", { name: "event_types", array: true }) eventTypes!: string[];
  /**
   * The signing secret (32 bytes, shown once as whsec_<base64>), sealed under the master key
   * version beside it (webhook-secrets.ts); `secret` holds it in base64 only in rows from before
   * secrets were sealed, until the start's sealing reaches them.
   */
  @Column("text", { nullable: true, select: false }) secret!: string | null;
  @Column("bytea", { name: "secret_sealed", nullable: true, select: false }) secretSealed!: Buffer | null;
  @Column("integer", { name: "secret_master_version", nullable: true, select: false }) secretMasterVersion!: number | null;
  /** After a rotation, the previous secret signs beside the new one until `previous_secret_until`. */
  @Column("text", { name: "previous_secret", nullable: true, select: false }) previousSecret!: string | null;
  @Column("bytea", { name: "previous_secret_sealed", nullable: true, select: false }) previousSecretSealed!: Buffer | null;
  @Column("integer", { name: "previous_secret_master_version", nullable: true, select: false }) previousSecretMasterVersion!: number | null;
  @Column("timestamptz", { name: "previous_secret_until", nullable: true }) previousSecretUntil!: Date | null;
  @Column("boolean", { default: true }) enabled!: boolean;
  @Column("text", { name: "disabled_reason", nullable: true }) disabledReason!: string | null;
  /** Since when every attempt to it failed (null after a success): five days of that disable it. */
  @Column("timestamptz", { name: "failing_since", nullable: true }) failingSince!: Date | null;
  @Column("timestamptz", { name: "created_at" }) createdAt!: Date;
  @Column("timestamptz", { name: "updated_at" }) updatedAt!: Date;
}

/** One event for one endpoint, with its attempts; its next attempt time is on the service clock. */
@Entity("webhook_delivery")
@Check("webhook_delivery_status_check", "status IN ('PENDING', 'SUCCEEDED', 'FAILED')")
@Check("webhook_delivery_next_check", "(status = 'PENDING') = (next_attempt_at IS NOT NULL)")
@Index("webhook_delivery_page", ["endpointId", "createdAt", "id"])
@Index("webhook_delivery_event", ["eventId"])
@Index("webhook_delivery_due", ["nextAttemptAt"], { where: "status = 'PENDING'" })
@ForeignKey("event", ["eventId"], ["id"], { name: "webhook_delivery_event_id_fkey", onDelete: "CASCADE" })
@ForeignKey("webhook_endpoint", ["endpointId"], ["id"], { name: "webhook_delivery_endpoint_id_fkey", onDelete: "CASCADE" })
export class WebhookDeliveryEntity {
  @PrimaryColumn("uuid") id!: string;
  @Column("uuid", { name: "tenant_id", nullable: true }) tenantId!: string | null;
  @Column("uuid", { name: "event_id" }) eventId!: string;
  @Column("uuid", { name: "endpoint_id" }) endpointId!: string;
  @Column("text") status!: string;
  /** Attempts of the current schedule (a replay starts a new one); the retry delays follow it. */
  @Column("integer", { name: "scheduled_attempts", default: 0 }) scheduledAttempts!: number;
  @Column("timestamptz", { name: "next_attempt_at", nullable: true }) nextAttemptAt!: Date | null;
  /** Wall-clock time until which a worker holds the delivery (a dead instance's lease runs out). */
  @Column("timestamptz", { name: "lease_until", nullable: true }) leaseUntil!: Date | null;
  /** Which hand-over holds the lease: only the job that carries it may attempt and record. */
  @Column("uuid", { name: "lease_token", nullable: true }) leaseToken!: string | null;
  /** Every attempt: time, status code, duration, error class (never the answer's body). */
  @Column("jsonb", { default: () => "'[]'" }) attempts!: Array<{ at: string; status: number | null; ms: number; error: string | null }>;
  @Column("timestamptz", { name: "created_at" }) createdAt!: Date;
  @Column("timestamptz", { name: "updated_at" }) updatedAt!: Date;
}
