import "reflect-metadata";
import { DataSource } from "typeorm";
import { migrations } from "./migrations";
import { keystoreMigrations } from "./migrations/keystore";
import { DataSubjectEntity } from "./src/modules/data-subject/data-subject.entity";
import { PersonalDataRecordEntity } from "./src/modules/personal-data/personal-data-record.entity";
import { DataTransferEntity, SharingAgreementEntity } from "./src/modules/sharing/sharing.entities";
import { ThirdPartyEntity } from "./src/modules/third-party/third-party.entity";
import { BreachIncidentEntity } from "./src/modules/incident/incident.entity";
import { SubjectRequestEntity } from "./src/modules/subject-request/subject-request.entity";
import { EventEntity, WebhookDeliveryEntity, WebhookEndpointEntity } from "./src/modules/events/events.entities";
import { StorageLocation } from "./src/modules/storage-location/storage-location.entity";
import { TenantEntity } from "./src/modules/tenant/tenant.entity";
import { StatementGate } from "./src/shared/db/session";
import { GuardedClient, prepareScopeStatement, ScopedClient } from "./src/shared/db/scoped-client";
import { patientPg } from "./src/shared/db/patient-pool";

export const entities = [
  StorageLocation,
  TenantEntity,
  DataSubjectEntity,
  PersonalDataRecordEntity,
  ThirdPartyEntity,
  SharingAgreementEntity,
  DataTransferEntity,
  BreachIncidentEntity,
  SubjectRequestEntity,
  EventEntity,
  WebhookEndpointEntity,
  WebhookDeliveryEntity,
];

export interface DataSourceOptions {
  /** Most connections the pool opens. */
  poolSize?: number;
  /** Called for errors of idle pooled connections (e.g. the server went away); they must not crash us. */
  onPoolError?: (error: Error) => void;
  /**
   * The role every connection switches to at start, e.g. APP_ROLE for the service's queries (a
   * role that owns no table and cannot bypass row-level security). Unset: the login role, for
   * migrations and maintenance.
   */
  role?: string;
  /**
   * The service's statement timeouts (30 s on the server, 35 s in the client), on by default.
   * Off for set-up work that is not a request: seeding a benchmark, migrating a test database.
   */
  timeouts?: boolean;
  /** The request pools': connections that send a request session's scope claim with each statement. */
  scoped?: boolean;
  /**
   * How long a new connection may take before the request waiting for it is told the database is
   * unavailable (default CONNECT_TIMEOUT_MS). The test suite gives its apps longer: on a CI
   * machine whose cores its lanes keep saturated, a server's new backends can take seconds.
   */
  connectTimeoutMs?: number;
}

export const CONNECT_TIMEOUT_MS = 3000;

/** The role the service's requests log in as (created by the row-level security migration). */
export const APP_ROLE = "custodian_app";
/** The role retention and the audit purge run as (the owner switches to it; the app role cannot). */
export const MAINTENANCE_ROLE = "custodian_maintenance";

/**
 * The one DataSource definition. Schema changes come only from the reviewed migrations:
 * synchronize stays off. Query logging is off because query parameters can hold personal data.
 */
export function createDataSource(url: string, options: DataSourceOptions = {}): DataSource {
  return new DataSource({
    type: "postgres",
    url,
    entities,
    migrations,
    // Refuses the statements of a closed request session (the only subscriber).
    subscribers: [StatementGate],
    migrationsTableName: "migrations",
    migrationsTransactionMode: "all",
    synchronize: false,
    logging: false,
    applicationName: "custodian",
    poolSize: options.poolSize ?? 10,
    connectTimeoutMS: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    poolErrorHandler: options.onPoolError ?? (() => undefined),
    // A connection refused for the server's connection limit is tried again within the timeout.
    driver: patientPg,
    extra: {
      idleTimeoutMillis: 30_000,
      ...(options.timeouts === false ? {} : { statement_timeout: 30_000, query_timeout: 35_000 }),
      ...(options.role ? { options: `-c role=${options.role}` } : {}),
      ...(options.scoped ? { Client: ScopedClient, onConnect: prepareScopeStatement } : { Client: GuardedClient }),
    },
  });
}

/**
 * A region's key store: a database of its own (the keys must not be in the data's backups), with
 * its own migrations and no entities. Its statements carry wrapped keys only.
 */
export function createKeystoreDataSource(url: string, options: Pick<DataSourceOptions, "poolSize" | "onPoolError" | "connectTimeoutMs"> = {}): DataSource {
  return new DataSource({
    type: "postgres",
    url,
    entities: [],
    migrations: keystoreMigrations,
    migrationsTableName: "migrations",
    migrationsTransactionMode: "all",
    synchronize: false,
    logging: false,
    applicationName: "custodian-keys",
    // As many as a request pool: a write or read waits for a key store connection while it holds
    // its own (four made the drills' writers time out on the region's pool).
    poolSize: options.poolSize ?? 10,
    connectTimeoutMS: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    poolErrorHandler: options.onPoolError ?? (() => undefined),
    driver: patientPg,
    extra: { idleTimeoutMillis: 30_000, statement_timeout: 30_000, query_timeout: 35_000, Client: GuardedClient },
  });
}

/** For the TypeORM CLI: the server named by DATABASE_URL. */
export default createDataSource(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/custodian");
