import { Foundation1763700000000 } from "./1763700000000-Foundation";
import { PersonalData1763800000000 } from "./1763800000000-PersonalData";
import { Sharing1763900000000 } from "./1763900000000-Sharing";
import { Incidents1764000000000 } from "./1764000000000-Incidents";
import { RowLevelSecurity1764100000000 } from "./1764100000000-RowLevelSecurity";
import { PolicyInitPlans1764200000000 } from "./1764200000000-PolicyInitPlans";
import { DatabaseRoles1764300000000 } from "./1764300000000-DatabaseRoles";
import { AuditCheckpoints1764400000000 } from "./1764400000000-AuditCheckpoints";
import { ResidencyGuard1764500000000 } from "./1764500000000-ResidencyGuard";
import { EventsAndSubjectRequests1796168879360 } from "./1796168879360-EventsAndSubjectRequests";
import { WebhookDeliveryLease1796171726547 } from "./1796171726547-WebhookDeliveryLease";
import { SealedValues1796400000001 } from "./1796400000001-SealedValues";
import { SealedSubjects1796400000002 } from "./1796400000002-SealedSubjects";
import { PlaintextLeft1796400000005 } from "./1796400000005-PlaintextLeft";
import { ShredEpoch1796400000006 } from "./1796400000006-ShredEpoch";
import { ScopeChecksPlanned1796400000007 } from "./1796400000007-ScopeChecksPlanned";
import { RecordTally1796400000008 } from "./1796400000008-RecordTally";
import { SealedRequestReasons1796400000010 } from "./1796400000010-SealedRequestReasons";
import { SealedWebhookSecrets1796400000011 } from "./1796400000011-SealedWebhookSecrets";
import { DeliveriesWrittenByTheOutbox1796400000012 } from "./1796400000012-DeliveriesWrittenByTheOutbox";

/** Every migration, in order. Listed explicitly so a stale compiled file can never run. */
export const migrations = [
  Foundation1763700000000,
  PersonalData1763800000000,
  Sharing1763900000000,
  Incidents1764000000000,
  RowLevelSecurity1764100000000,
  PolicyInitPlans1764200000000,
  DatabaseRoles1764300000000,
  AuditCheckpoints1764400000000,
  ResidencyGuard1764500000000,
  EventsAndSubjectRequests1796168879360,
  WebhookDeliveryLease1796171726547,
  SealedValues1796400000001,
  SealedSubjects1796400000002,
  PlaintextLeft1796400000005,
  ShredEpoch1796400000006,
  ScopeChecksPlanned1796400000007,
  RecordTally1796400000008,
  SealedRequestReasons1796400000010,
  SealedWebhookSecrets1796400000011,
  DeliveriesWrittenByTheOutbox1796400000012,
];
