import { registerEnumType } from "type-graphql";

/** What happened (DOMAIN rule 28). Each has a dotted wire name, the webhook payload's "type". */
export enum EventType {
  BREACH_NOTIFICATION_SENT = "BREACH_NOTIFICATION_SENT",
  BREACH_NOTIFICATION_OVERDUE = "BREACH_NOTIFICATION_OVERDUE",
  RECIPIENT_NOTICE_OPENED = "RECIPIENT_NOTICE_OPENED",
  SUBPROCESSOR_LIST_CHANGED = "SUBPROCESSOR_LIST_CHANGED",
  SHARING_AGREEMENT_SUSPENDED = "SHARING_AGREEMENT_SUSPENDED",
  SUBSCRIPTION_ENDED = "SUBSCRIPTION_ENDED",
  DATA_PURGED = "DATA_PURGED",
  SUBJECT_REQUEST_OPENED = "SUBJECT_REQUEST_OPENED",
  SUBJECT_REQUEST_EXTENDED = "SUBJECT_REQUEST_EXTENDED",
  SUBJECT_REQUEST_DUE_SOON = "SUBJECT_REQUEST_DUE_SOON",
  SUBJECT_REQUEST_OVERDUE = "SUBJECT_REQUEST_OVERDUE",
  SUBJECT_REQUEST_COMPLETED = "SUBJECT_REQUEST_COMPLETED",
  SUBJECT_REQUEST_REJECTED = "SUBJECT_REQUEST_REJECTED",
}

/** The wire names (binding: outside receivers switch on them) and what each event means. */
const EVENTS: Record<EventType, { wire: string; description: string }> = {
  BREACH_NOTIFICATION_SENT: {
    wire: "breach_notification.sent",
    description: "a tenant was notified of a customer-reportable security incident (to that tenant only).",
  },
  BREACH_NOTIFICATION_OVERDUE: {
    wire: "breach_notification.overdue",
    description: "operators only; an incident's 72 hours passed with an affected tenant unnotified.",
  },
  RECIPIENT_NOTICE_OPENED: {
    wire: "recipient_notice.opened",
    description: "a shared record was erased or corrected, so a recipient must be told (rule 21).",
  },
  SUBPROCESSOR_LIST_CHANGED: { wire: "subprocessor_list.changed", description: "the subprocessor list changed (every tenant)." },
  SHARING_AGREEMENT_SUSPENDED: {
    wire: "sharing_agreement.suspended",
    description: "one of the tenant's sharing agreements was suspended or revoked.",
  },
  SUBSCRIPTION_ENDED: { wire: "subscription.ended", description: "the tenant's subscription ended and passive deletion started." },
  DATA_PURGED: { wire: "data.purged", description: "a retention run purged some of the tenant's data (counts only)." },
  SUBJECT_REQUEST_OPENED: { wire: "subject_request.opened", description: "a data subject's request was opened." },
  SUBJECT_REQUEST_EXTENDED: { wire: "subject_request.extended", description: "a subject request's due date was extended." },
  SUBJECT_REQUEST_DUE_SOON: { wire: "subject_request.due_soon", description: "seven days before a subject request's due date, once." },
  SUBJECT_REQUEST_OVERDUE: { wire: "subject_request.overdue", description: "a subject request's due date passed while it was open, once." },
  SUBJECT_REQUEST_COMPLETED: { wire: "subject_request.completed", description: "a subject request was completed." },
  SUBJECT_REQUEST_REJECTED: { wire: "subject_request.rejected", description: "a subject request was rejected, with a reason." },
};

registerEnumType(EventType, {
  name: "EventType",
  description:
    'What happened. On the wire (the webhook payload\'s "type", Standard Webhooks style) each value has the dotted name given first in its description.',
  valuesConfig: Object.fromEntries(Object.entries(EVENTS).map(([name, e]) => [name, { description: `"${e.wire}": ${e.description}` }])),
});

/** The dotted name receivers see in a delivery's "type" ("subject_request.opened"); the stored name when unknown. */
export function wireName(type: string): string {
  return EVENTS[type as EventType]?.wire ?? type;
}

/** Whether a stored type is a subject request's (who may see it is narrower: see the role table). */
export function isSubjectRequestEvent(type: string): boolean {
  return type.startsWith("SUBJECT_REQUEST_");
}
