import { Client } from "pg";
import type { DataSource } from "typeorm";
import { CONNECT_TIMEOUT_MS, createDataSource, createKeystoreDataSource, type DataSourceOptions } from "../../../ormconfig";
import { pgErrorCode } from "./database";
import { nameFailuresOf, type DatabasePart } from "./failed-database";
import { migrate } from "./migrate";
import { openMaintenancePool, openRequestPool } from "./pools";

/**
 * Where the service's data lives (DOMAIN rule 3, physical residency): one control database for
 * what is global and holds no personal data, and one region database per storage location for
 * everything about the tenants stored there. Region databases never talk to each other or to
 * control: no statement joins across them. This is the one place that knows the databases;
 * requests reach them through their unit of work (UnitOfWork), which chooses by tenant.
 */

/** The control database's name in a topology (location codes are upper case, so it never clashes). */
export const CONTROL = "control";

export interface Database {
  /** CONTROL, or the storage location's code. */
  name: string;
  /** The owner's URL (migrations, set-up). */
  url: string;
  /** The owner's connection: migrations, reference copies, the tests' assertions. */
  owner: DataSource;
  /** The request pool (custodian_app, under row-level security). */
  app: DataSource;
  /** The maintenance pool (custodian_maintenance): retention and the audit purge. */
  maintenance: DataSource;
  /** A region's key store (a database of its own, see src/modules/keys); null for control, which holds no personal data. */
  keystore: DataSource | null;
}

/** Where a region's key store is: its URL, and whether it is made there when missing (a database Custodian named). */
export interface KeystoreLocation {
  url: string;
  create: boolean;
}

/** A database that could not be reached: the location's tenants' error, retryable. */
export class DatabaseUnavailableError extends Error {
  /** Which of the location's databases: its data, or its key store (kept from a cause that says). */
  readonly part: DatabasePart;

  constructor(
    readonly database: string,
    options?: { cause?: unknown; part?: DatabasePart },
  ) {
    const part = options?.part ?? (options?.cause instanceof DatabaseUnavailableError ? options.cause.part : "database");
    super(`the ${database === CONTROL ? "control" : `${database} region`} ${part} is unavailable`, options);
    this.part = part;
  }
}

/** What a deployment says about its databases. */
export interface TopologyOptions {
  /** The control database (DATABASE_URL, or the embedded server's). */
  controlUrl: string;
  /** Region databases by location code (STORAGE_LOCATION_DATABASES); a location not named gets its own database on the control server. */
  regionUrls?: Readonly<Record<string, string>>;
  /** How custodian_app logs in to control (APP_DATABASE_URL); derived from the owner's URL when unset, and always for regions. */
  appUrl?: string;
  pool?: DataSourceOptions;
  /** Brings a region's reference rows (locations, third parties) up to control's: at start, and for a region created later. */
  prepareRegion?: (region: Database, control: Database) => Promise<void>;
  /** Whether `code` is a storage location in control (one another instance created since this one started). */
  locationExists?: (control: DataSource, code: string) => Promise<boolean>;
  /** Tenant id -> location code, read from control's tenant directory (on its maintenance pool: no request scope). */
  directory: (control: DataSource, tenantIds: readonly string[]) => Promise<Map<string, string>>;
  /** Told which migrations a database just applied (none: not called). */
  onMigrated?: (database: string, applied: string[]) => void;
  /** Where location `code`'s key store is, given its region database's URL; unset: regions have none. */
  keystore?: (code: string, regionUrl: string) => KeystoreLocation;
}

/** The database a region without a URL of its own gets on the control server: `<control>_<code>`. */
export function regionDatabaseName(controlUrl: string, code: string): string {
  if (!/^[A-Za-z0-9_]{1,20}$/.test(code)) throw new Error(`storage location code ${JSON.stringify(code)} cannot name a database`);
  const control = decodeURIComponent(new URL(controlUrl).pathname.slice(1)) || "postgres";
  return `${control}_${code.toLowerCase()}`;
}

const PG_DUPLICATE_DATABASE = "42P04";
export const PG_UNKNOWN_DATABASE = "3D000";

/** Creates database `name` on the server `serverUrl` names, unless it exists (two instances may race to it). */
export async function ensureDatabase(serverUrl: string, name: string, connectTimeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
  if (!/^[a-z0-9_]{1,63}$/.test(name)) throw new Error(`unexpected database name ${JSON.stringify(name)}`);
  const client = new Client({ connectionString: serverUrl, connectionTimeoutMillis: connectTimeoutMs });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return;
    await client.query(`CREATE DATABASE ${name}`).catch((error: unknown) => {
      if (pgErrorCode(error) !== PG_DUPLICATE_DATABASE) throw error;
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Where `code`'s region database lives: its own URL, or `<control>_<code>` on the control server. */
export function regionUrlOf(options: Pick<TopologyOptions, "controlUrl" | "regionUrls">, code: string): string {
  return options.regionUrls?.[code] ?? withDatabase(options.controlUrl, regionDatabaseName(options.controlUrl, code));
}

export function withDatabase(url: string, name: string): string {
  const next = new URL(url);
  next.pathname = `/${name}`;
  return next.toString();
}

/** What every connection the topology opens takes from its pool options, whatever the pool's size or role. */
function connectionOptions(options: TopologyOptions): Pick<DataSourceOptions, "onPoolError" | "connectTimeoutMs"> {
  return { onPoolError: options.pool?.onPoolError, connectTimeoutMs: options.pool?.connectTimeoutMs };
}

/** Opens a migrated database's three pools. */
async function openDatabase(name: string, url: string, options: TopologyOptions, appUrl?: string): Promise<Database> {
  const owner = createDataSource(url, { ...options.pool, poolSize: 3 });
  await owner.initialize();
  try {
    const applied = await migrate(owner);
    if (applied.length) options.onMigrated?.(name, applied);
    await declareLocation(owner, name);
    // Requests' statements that fail name their database (an outage's error names its location).
    const app = nameFailuresOf(await openRequestPool(owner, url, { ...options.pool, appUrl }), name);
    const maintenance = await openMaintenancePool(url, connectionOptions(options));
    return { name, url, owner, app, maintenance, keystore: null };
  } catch (error) {
    await owner.destroy().catch(() => undefined);
    throw error;
  }
}

/** How the migration commands name a location's key store. */
export function keystoreName(code: string): string {
  return `${code} key store`;
}

/** Opens and migrates a region's key store, made first when Custodian names it and it is missing. */
async function openKeystore(name: string, location: KeystoreLocation, options: TopologyOptions): Promise<DataSource> {
  const open = async () => {
    const keystore = createKeystoreDataSource(location.url, connectionOptions(options));
    await keystore.initialize();
    try {
      const applied = await migrate(keystore);
      if (applied.length) options.onMigrated?.(name, applied);
      return keystore;
    } catch (error) {
      await keystore.destroy().catch(() => undefined);
      throw error;
    }
  };
  return open().catch(async (error: unknown) => {
    if (!location.create || pgErrorCode(error) !== PG_UNKNOWN_DATABASE) throw error;
    await ensureDatabase(
      withDatabase(location.url, "postgres"),
      decodeURIComponent(new URL(location.url).pathname.slice(1)),
      connectionOptions(options).connectTimeoutMs,
    );
    return open();
  });
}

/** A database set up for something else: a configuration to fix, not an outage to wait out. */
export class MisconfiguredDatabaseError extends Error {}

/**
 * Tells the database what it is (`custodian.location`: control, or the location's code), for
 * its residency guard (the ResidencyGuard migration) to refuse rows that belong elsewhere. A
 * database setting, so every session opened from now on has it.
 */
async function declareLocation(owner: DataSource, name: string): Promise<void> {
  const [{ current }]: Array<{ current: string | null }> = await owner.query(
    `SELECT (SELECT split_part(c, '=', 2) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) c
              WHERE d.datname = current_database() AND s.setrole = 0 AND c LIKE 'custodian.location=%') AS current`,
  );
  if (current === name) return;
  if (current) throw new MisconfiguredDatabaseError(`this database is declared ${current}'s, not ${name}'s: two locations may not share one database`);
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`unexpected location ${JSON.stringify(name)}`);
  const [{ db }]: Array<{ db: string }> = await owner.query(`SELECT quote_ident(current_database()) AS db`);
  await owner.query(`ALTER DATABASE ${db} SET custodian.location = '${name}'`);
}

async function closeDatabase(db: Database): Promise<void> {
  for (const pool of [db.app, db.maintenance, db.owner, db.keystore]) if (pool?.isInitialized) await pool.destroy().catch(() => undefined);
}

export class Topology {
  private readonly regionsByCode = new Map<string, Database>();
  /** Every location the service stores data in, also those whose database could not be opened yet. */
  private readonly known = new Set<string>();
  private readonly opening = new Map<string, Promise<Database>>();
  /** Tenant id -> location code. A tenant's location never changes, so an entry never goes stale. */
  private readonly located = new Map<string, string>();

  private constructor(
    readonly control: Database,
    private readonly options: TopologyOptions,
  ) {}

  /** Opens and migrates the control database; regions are added with `addRegion`. */
  static async open(options: TopologyOptions): Promise<Topology> {
    const control = await openDatabase(CONTROL, options.controlUrl, options, options.appUrl);
    return new Topology(control, options);
  }

  /** The region databases open now. */
  get regions(): Database[] {
    return [...this.regionsByCode.values()];
  }

  /** Every storage location's code, whether or not its database is open. */
  get locations(): string[] {
    return [...this.known];
  }

  /**
   * `work` on every database (control, then every location, also one whose database is not
   * open), side by side; each one's outcome by name. A database that cannot be opened fails its
   * own outcome with DatabaseUnavailableError.
   */
  async each<T>(work: (database: Database) => Promise<T>): Promise<Array<{ name: string; outcome: PromiseSettledResult<T> }>> {
    const names = [CONTROL, ...this.locations];
    const outcomes = await Promise.allSettled(
      names.map(async (name) => {
        const database = await this.region(name).catch((error: unknown) => {
          throw new DatabaseUnavailableError(name, { cause: error });
        });
        if (!database) throw new DatabaseUnavailableError(name);
        return work(database);
      }),
    );
    return names.map((name, i) => ({ name, outcome: outcomes[i] }));
  }

  /** How long a new connection to any of its databases may take (its pools' setting). */
  get connectTimeoutMs(): number {
    return connectionOptions(this.options).connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  }

  /** Every database: control first. */
  get all(): Database[] {
    return [this.control, ...this.regions];
  }

  /** The database named `name` (CONTROL or a location code), if open. */
  database(name: string): Database | undefined {
    return name === CONTROL ? this.control : this.regionsByCode.get(name);
  }

  /** Where `code`'s region database lives: its own URL, or `<control>_<code>` on the control server. */
  regionUrl(code: string): string {
    return regionUrlOf(this.options, code);
  }

  /**
   * Opens the region database of `code`: created on the control server when it has no URL of
   * its own, migrated under its own lock, its reference rows brought up to control's. Idempotent.
   */
  addRegion(code: string): Promise<Database> {
    this.known.add(code);
    const open = this.regionsByCode.get(code);
    if (open) return Promise.resolve(open);
    let opening = this.opening.get(code);
    if (!opening) {
      opening = (async () => {
        const url = this.regionUrl(code);
        const region = await openDatabase(code, url, this.options).catch(async (error: unknown) => {
          // A location without a URL of its own gets its database on the control server, made on first open.
          if (this.options.regionUrls?.[code] || pgErrorCode(error) !== PG_UNKNOWN_DATABASE) throw error;
          await ensureDatabase(this.options.controlUrl, regionDatabaseName(this.options.controlUrl, code), this.connectTimeoutMs);
          return openDatabase(code, url, this.options);
        });
        try {
          const keystore = this.options.keystore?.(code, url);
          if (keystore) {
            // Named as the key store's, so the error and the start's log say which of the location's databases failed.
            const opened = await openKeystore(keystoreName(code), keystore, this.options).catch((error: unknown) => {
              throw error instanceof MisconfiguredDatabaseError ? error : new DatabaseUnavailableError(code, { cause: error, part: "key store" });
            });
            region.keystore = nameFailuresOf(opened, code, "key store");
          }
          await this.options.prepareRegion?.(region, this.control);
        } catch (error) {
          await closeDatabase(region);
          throw error;
        }
        this.regionsByCode.set(code, region);
        return region;
      })().finally(() => this.opening.delete(code));
      this.opening.set(code, opening);
    }
    return opening;
  }

  /**
   * The open database of a known location, opening it if an earlier attempt failed (its server
   * was down at start); undefined for a code that is not a location.
   */
  async region(code: string): Promise<Database | undefined> {
    if (code === CONTROL) return this.control;
    if (!this.known.has(code) && !(await this.options.locationExists?.(this.control.maintenance, code))) return undefined;
    return this.regionsByCode.get(code) ?? this.addRegion(code);
  }

  /**
   * Brings a region up to control again (reference rows, the directory, what a crash between a
   * region's commit and control's left out): what opening it does, for a region already open.
   */
  async repair(region: Database): Promise<void> {
    await this.options.prepareRegion?.(region, this.control);
  }

  /** The location of `tenantId` from the directory (cached: it never changes); null for no such tenant. */
  async locate(tenantId: string): Promise<string | null> {
    return this.located.get(tenantId) ?? (await this.locateAll([tenantId])).get(tenantId) ?? null;
  }

  /** The locations of those of `tenantIds` that are tenants, asking the directory once for the ones not known yet. */
  async locateAll(tenantIds: readonly string[]): Promise<Map<string, string>> {
    const unknown = tenantIds.filter((id) => !this.located.has(id));
    if (unknown.length) for (const [id, code] of await this.options.directory(this.control.maintenance, unknown)) this.located.set(id, code);
    const found = new Map<string, string>();
    for (const id of tenantIds) {
      const code = this.located.get(id);
      if (code) found.set(id, code);
    }
    return found;
  }

  /** The location of `tenantId` if already known, without asking the directory. */
  knownLocation(tenantId: string): string | undefined {
    return this.located.get(tenantId);
  }

  /** Records where a tenant lives: a tenant being created, or rows a region just returned. */
  remember(tenantId: string, code: string): void {
    this.located.set(tenantId, code);
  }

  async close(): Promise<void> {
    await Promise.all(this.regions.map(closeDatabase));
    this.regionsByCode.clear();
    await closeDatabase(this.control);
  }
}
