import { Check, Column, Entity, ForeignKey, Index, PrimaryColumn } from "typeorm";
import type { SubjectRequestKind, SubjectRequestStatus } from "./subject-request-policy";

/**
 * A data subject's request (GDPR Art. 12, 15-17, 20) and its legal clock. It names the subject by
 * its internal id only, and seals the reasons an administrator writes to it under the subject's
 * key, so it outlives the subject's purge as proof without personal data.
 */
@Entity("subject_request")
// Constraints as the migrations name them, so TypeORM's schema diff sees no drift.
@Check("subject_request_kind_check", "kind IN ('ACCESS', 'RECTIFICATION', 'ERASURE', 'PORTABILITY')")
@Check("subject_request_status_check", "status IN ('OPEN', 'AWAITING_IDENTITY', 'COMPLETED', 'REJECTED')")
@Check("subject_request_clock_check", "(status = 'AWAITING_IDENTITY') = (due_at IS NULL)")
@Check("subject_request_reason_check", "length(extension_reason) <= 2000 AND length(rejection_reason) <= 2000")
@Check(
  "subject_request_sealed_reason_check",
  "(extension_reason IS NULL OR extension_reason_sealed IS NULL) AND (rejection_reason IS NULL OR rejection_reason_sealed IS NULL)",
)
@Index("subject_request_page", ["tenantId", "createdAt", "id"])
@Index("subject_request_subject", ["tenantId", "dataSubjectId"])
// One open request per subject and kind.
@Index("subject_request_one_open", ["tenantId", "dataSubjectId", "kind"], { unique: true, where: "status IN ('OPEN', 'AWAITING_IDENTITY')" })
// Reasons written before they were sealed: what the sealing of existing data still has to do.
@Index("subject_request_plaintext", ["tenantId", "createdAt", "id"], { where: "extension_reason IS NOT NULL OR rejection_reason IS NOT NULL" })
// The maintenance run's deadline scan.
@Index("subject_request_due", ["dueAt"], { where: "status = 'OPEN'" })
@ForeignKey("tenant", ["tenantId"], ["id"], { name: "subject_request_tenant_id_fkey" })
export class SubjectRequestEntity {
  @PrimaryColumn("uuid") id!: string;
  @Column("uuid", { name: "tenant_id" }) tenantId!: string;
  @Column("uuid", { name: "data_subject_id" }) dataSubjectId!: string;
  @Column("text") kind!: SubjectRequestKind;
  @Column("text") status!: SubjectRequestStatus;
  @Column("timestamptz", { name: "received_at" }) receivedAt!: Date;
  @Column("timestamptz", { name: "clock_started_at", nullable: true }) clockStartedAt!: Date | null;
  @Column("timestamptz", { name: "due_at", nullable: true }) dueAt!: Date | null;
  @Column("timestamptz", { name: "original_due_at", nullable: true }) originalDueAt!: Date | null;
  /** Written before reasons were sealed (null once sealed). */
  @Column("text", { name: "extension_reason", nullable: true }) extensionReason!: string | null;
  /** The extension's reason sealed under the subject's key (src/modules/keys). */
  @Column("bytea", { name: "extension_reason_sealed", nullable: true }) extensionReasonSealed!: Buffer | null;
  @Column("timestamptz", { name: "identity_requested_at", nullable: true }) identityRequestedAt!: Date | null;
  /** The last export of the subject made while this request was open (ACCESS, PORTABILITY). */
  @Column("timestamptz", { name: "exported_at", nullable: true }) exportedAt!: Date | null;
  @Column("timestamptz", { name: "completed_at", nullable: true }) completedAt!: Date | null;
  @Column("timestamptz", { name: "rejected_at", nullable: true }) rejectedAt!: Date | null;
  @Column("text", { name: "rejection_reason", nullable: true }) rejectionReason!: string | null;
  @Column("bytea", { name: "rejection_reason_sealed", nullable: true }) rejectionReasonSealed!: Buffer | null;
  /** The recipient notices completing it opened (ERASURE, RECTIFICATION). */
  @Column("uuid", { name: "recipient_notice_ids", array: true, default: () => "'{}'" }) recipientNoticeIds!: string[];
  /** The due dates for which `subject_request.due_soon` and `.overdue` were raised: once per due date. */
  @Column("timestamptz", { name: "due_soon_raised_for", nullable: true }) dueSoonRaisedFor!: Date | null;
  @Column("timestamptz", { name: "overdue_raised_for", nullable: true }) overdueRaisedFor!: Date | null;
  @Column("timestamptz", { name: "created_at" }) createdAt!: Date;
  @Column("timestamptz", { name: "updated_at" }) updatedAt!: Date;
}
