import { registerEnumType } from "type-graphql";

/** Why personal data is processed (DOMAIN rules 11, 12). */
export enum ProcessingPurpose {
  SERVICE_OPERATION = "SERVICE_OPERATION",
  SUPPORT = "SUPPORT",
  SERVICE_MAINTENANCE = "SERVICE_MAINTENANCE",
  SECURITY = "SECURITY",
  LEGAL_OBLIGATION = "LEGAL_OBLIGATION",
  SUBJECT_ACCESS = "SUBJECT_ACCESS",
  PROFILING = "PROFILING",
  MARKETING = "MARKETING",
}

registerEnumType(ProcessingPurpose, {
  name: "ProcessingPurpose",
  description: "Why personal data is processed. Every record declares its purposes; every read and share states one.",
  valuesConfig: {
    SERVICE_OPERATION: { description: "Running the service the tenant subscribed to." },
    SUPPORT: { description: "Helping the tenant with a support request." },
    SERVICE_MAINTENANCE: { description: "Maintaining and repairing the service." },
    SECURITY: { description: "Keeping the service and its data secure." },
    LEGAL_OBLIGATION: { description: "Meeting a legal obligation." },
    SUBJECT_ACCESS: { description: "The data subject reading their own data; implicit, never declared at collection." },
    PROFILING: { description: "Always refused: personal data is never used for profiling." },
    MARKETING: { description: "Always refused: personal data is never used for marketing." },
  },
});
