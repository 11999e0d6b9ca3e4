import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { MisconfiguredDatabaseError, withDatabase, type KeystoreLocation } from "../../shared/db/topology";
import type { Logger } from "../../shared/logging";
import { KEY_BYTES, LocalKeyProvider, parseMasterKey } from "./envelope";

export interface KeystoreSettings {
  /** KEYSTORE_DATABASE_URL: the server each region's key store is made on. */
  serverUrl?: string;
  /** KEYSTORE_DATABASES: a location's key store by code. */
  urls?: Readonly<Record<string, string>>;
  /** In production a key store must be on another server than its region's data. */
  production: boolean;
}

/** The key store settings of a configuration (KEYSTORE_SAME_SERVER_UNSAFE lifts production's refusal, for benches and drills). */
export function keystoreSettings(config: {
  keystoreServerUrl: string | undefined;
  keystoreUrls: Readonly<Record<string, string>>;
  production: boolean;
  keystoreSameServerUnsafe: boolean;
}): KeystoreSettings {
  return { serverUrl: config.keystoreServerUrl, urls: config.keystoreUrls, production: config.production && !config.keystoreSameServerUnsafe };
}

/**
 * Where location `code`'s key store is: the URL KEYSTORE_DATABASES gives it, else
 * `<region database>_keys` on the key store server (KEYSTORE_DATABASE_URL), else, in
 * development, beside the region's database on the same server. A database in the same cluster
 * shares the data's disk copies and backups, which is what shredding must not: production refuses it.
 */
export function keystoreLocation(settings: KeystoreSettings, code: string, regionUrl: string): KeystoreLocation {
  const given = settings.urls?.[code];
  const location = given
    ? { url: given, create: false }
    : { url: withDatabase(settings.serverUrl ?? regionUrl, `${databaseName(regionUrl)}_keys`), create: true };
  if (settings.production && sameServer(location.url, regionUrl)) {
    throw new MisconfiguredDatabaseError(
      `the ${code} key store is on the same PostgreSQL server as its data: its backups would keep the keys shredding destroys`,
    );
  }
  return location;
}

/** Whether the key store is a development default (beside its data): worth a warning at start. */
export function sharesServer(settings: KeystoreSettings, code: string, regionUrl: string): boolean {
  return sameServer(keystoreLocation({ ...settings, production: false }, code, regionUrl).url, regionUrl);
}

function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1)) || "postgres";
}

function sameServer(a: string, b: string): boolean {
  const [x, y] = [new URL(a), new URL(b)];
  const host = (u: URL) => (u.hostname === "localhost" ? "127.0.0.1" : u.hostname);
  return host(x) === host(y) && (x.port || "5432") === (y.port || "5432");
}

/**
 * The master key: MASTER_KEY when set; otherwise (development only: production requires
 * MASTER_KEY) the key in `file`, made on first start with 32 random bytes, readable by its owner
 * only. Losing it makes every sealed value unreadable: the warning says so.
 */
export async function loadMasterKey(configured: Buffer | null, file: string, log: Logger): Promise<Buffer> {
  if (configured) return configured;
  const existing = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
  if (existing !== null) {
    log.warn({ file }, "MASTER_KEY is not set: using the development master key from its file (back it up: without it no sealed value can be read)");
    return parseMasterKey(existing);
  }
  const key = randomBytes(KEY_BYTES);
  await mkdir(dirname(file), { recursive: true });
  // wx: two instances starting at once never overwrite each other's key.
  await writeFile(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" }).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  const written = parseMasterKey(await readFile(file, "utf8"));
  log.warn({ file }, "MASTER_KEY is not set: a development master key was made in its file (back it up: without it no sealed value can be read)");
  return written;
}

/** The configured master key provider: the current master key (or the development file) with its version, and the previous versions. */
export async function masterKeyProvider(
  config: { masterKey: Buffer | null; masterKeyFile: string; masterKeyVersion: number; masterKeysPrevious: ReadonlyMap<number, Buffer> },
  log: Logger,
): Promise<LocalKeyProvider> {
  const current = await loadMasterKey(config.masterKey, config.masterKeyFile, log);
  return new LocalKeyProvider(current, { version: config.masterKeyVersion, previous: config.masterKeysPrevious });
}
