/**
 * Every action an audit entry may name (DOMAIN rule 26), in one place: entries are written with
 * these names only (the type says so), and the audit log's filter and readers can rely on them.
 */
export const AUDIT_ACTIONS = {
  // Reference data (operators)
  STORAGE_LOCATION_CREATED: "a storage location was added",
  THIRD_PARTY_REGISTERED: "a third party was registered",
  SUBPROCESSOR_LISTING_CHANGED: "a third party was put on or taken off the subprocessor list",
  TEST_CLOCK_SET: "the service clock was set (test clock only)",
  // Tenants and subscriptions
  TENANT_CREATED: "a tenant was created",
  RETENTION_POLICY_UPDATED: "a tenant's retention policy changed",
  SUBSCRIPTION_ENDED: "a tenant's subscription ended (passive deletion)",
  SUBSCRIPTION_REACTIVATED: "a tenant's subscription was reactivated before the purge",
  // Data subjects and their records
  DATA_SUBJECT_REGISTERED: "a data subject was registered",
  DATA_SUBJECT_DELETED: "a data subject and their records were deleted",
  DATA_SUBJECT_EXPORTED: "a data subject's data was exported (SUBJECT_ACCESS)",
  RECORD_CREATED: "a record was collected",
  RECORDS_BATCH_CREATED: "records were collected in one batch",
  RECORD_CORRECTED: "a record was corrected",
  RECORD_DELETED: "a record was deleted",
  RECORD_VALUE_READ: "values were read, for one purpose",
  // Sharing
  SHARING_AGREEMENT_CREATED: "a sharing agreement was made",
  CONSENT_GRANTED: "a tenant's administrator consented to an agreement",
  CONSENT_REVOKED: "consent to an agreement was revoked",
  RECORDS_SHARED: "records were shared under an agreement",
  RECIPIENT_NOTICE_CONFIRMED: "a recipient was told of an erasure or correction",
  AGREEMENT_SUSPENDED: "an agent's agreement was suspended: it left the subprocessor list",
  AGREEMENT_REACTIVATED: "an agent's suspended agreement became active again: it is listed again",
  // Incidents
  SECURITY_INCIDENT_REPORTED: "a security incident was reported",
  INCIDENT_DECLARED_CUSTOMER_REPORTABLE: "an incident was declared customer-reportable",
  AFFECTED_TENANTS_ADDED: "tenants were added to an incident",
  SECURITY_INCIDENT_DISMISSED: "an incident was dismissed",
  SECURITY_INCIDENT_RESOLVED: "an incident was resolved",
  BREACH_NOTIFICATION_SENT: "a tenant was notified of a breach",
  BREACH_NOTIFICATION_ACKNOWLEDGED: "a tenant acknowledged a breach notification",
  // Subject requests
  SUBJECT_REQUEST_OPENED: "a data subject's request was opened",
  SUBJECT_IDENTITY_REQUESTED: "proof of identity was asked for on a subject request (its clock stopped)",
  SUBJECT_IDENTITY_CONFIRMED: "a subject request's identity was confirmed (its clock restarted)",
  SUBJECT_REQUEST_EXTENDED: "a subject request's due date was extended",
  SUBJECT_REQUEST_COMPLETED: "a subject request was completed",
  SUBJECT_REQUEST_REJECTED: "a subject request was rejected",
  // Webhooks
  WEBHOOK_ENDPOINT_CREATED: "a webhook endpoint was created",
  WEBHOOK_SECRET_ROTATED: "a webhook endpoint's secret was rotated",
  WEBHOOK_ENDPOINT_DISABLED: "a webhook endpoint was disabled",
  WEBHOOK_ENDPOINT_ENABLED: "a webhook endpoint was enabled",
  WEBHOOK_ENDPOINT_DELETED: "a webhook endpoint and its secrets were deleted",
  WEBHOOK_DELIVERY_REPLAYED: "a webhook delivery was sent again",
  // Retention
  RETENTION_RUN: "a retention run was started on demand",
  RECORDS_PURGED: "records past their purge date were deleted",
  DATA_SUBJECTS_PURGED: "deleted data subjects were removed",
  TENANT_PURGE_PROGRESSED: "a batch of an ended tenant's data was purged (the purge goes on)",
  TENANT_PURGED: "an ended tenant's data was purged",
  AUDIT_LOG_PURGED: "audit entries past their retention were purged",
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;

export function isAuditAction(name: string): name is AuditAction {
  return Object.hasOwn(AUDIT_ACTIONS, name);
}
