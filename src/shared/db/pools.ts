import { createHmac } from "node:crypto";
import type { DataSource } from "typeorm";
import { APP_ROLE, MAINTENANCE_ROLE, createDataSource, type DataSourceOptions } from "../../../ormconfig";
import { PG_INVALID_PASSWORD, pgErrorCode } from "./database";
import { registerScopeKey } from "./scope-claim";

/**
 * The three ways the service reaches its database:
 * - the owner (DATABASE_URL): migrations and seeding only;
 * - requests: a pool that logs in as custodian_app, which owns nothing and can become no one;
 * - maintenance (retention, audit purge, checkpoints): the owner's login switched to
 *   custodian_maintenance, the one role that may delete audit entries.
 */

/**
 * How custodian_app logs in when APP_DATABASE_URL is not given: the owner's server and database,
 * with a password derived from the owner's (none when the owner has none, as under trust
 * authentication). Derived, not random, so every process sharing a server agrees on it.
 */
export function appLoginUrl(ownerUrl: string): string {
  const url = new URL(ownerUrl);
  const ownerPassword = decodeURIComponent(url.password);
  url.username = APP_ROLE;
  url.password = ownerPassword ? createHmac("sha256", ownerPassword).update(`${APP_ROLE} login`).digest("base64url") : "";
  return url.toString();
}

/**
 * Connects `db` as custodian_app: when the server refuses its password and the URL is the
 * derived one, the owner sets that password (the embedded server asks for one) and it connects again.
 */
async function initializeAppLogin(owner: DataSource, db: DataSource, appUrl: string, derived: boolean): Promise<void> {
  try {
    await db.initialize();
  } catch (error) {
    if (!derived || pgErrorCode(error) !== PG_INVALID_PASSWORD) throw error;
    const password = decodeURIComponent(new URL(appUrl).password);
    // base64url: nothing to escape. ALTER ROLE takes no parameters.
    if (!/^[A-Za-z0-9_-]+$/.test(password)) throw new Error("the derived password has unexpected characters");
    await owner.query(`ALTER ROLE ${APP_ROLE} LOGIN PASSWORD '${password}'`);
    await db.initialize();
  }
}

/** The request pool, ready: logged in as custodian_app and holding the key that signs scopes. */
export async function openRequestPool(owner: DataSource, ownerUrl: string, options: DataSourceOptions & { appUrl?: string } = {}): Promise<DataSource> {
  const appUrl = options.appUrl ?? appLoginUrl(ownerUrl);
  const [{ value }]: Array<{ value: string }> = await owner.query(`SELECT value FROM custodian_secret WHERE name = 'scope'`);
  const db = createDataSource(appUrl, { ...options, scoped: true });
  await initializeAppLogin(owner, db, appUrl, options.appUrl === undefined);
  registerScopeKey(db, value);
  return db;
}

/** The maintenance pool: the owner's login, switched to custodian_maintenance for every statement. */
export async function openMaintenancePool(ownerUrl: string, options: DataSourceOptions = {}): Promise<DataSource> {
  const db = createDataSource(ownerUrl, { poolSize: 3, ...options, role: MAINTENANCE_ROLE });
  await db.initialize();
  return db;
}
