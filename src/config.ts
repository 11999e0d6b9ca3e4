import { DEFAULT_CLAIM_NAMES, type ClaimNames } from "./shared/auth/principal";
import { createPublicKey, type KeyObject } from "node:crypto";
import { AuditSigner } from "./modules/audit/audit-signer";
import { parseMasterKey } from "./modules/keys/envelope";
/**
 * Configuration, read once from the environment and validated before anything starts.
 * A bad value stops the process with a message that names the variable (never a secret's value).
 */

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  nodeEnv: string;
  production: boolean;
  port: number;
  host: string;
  /** Unset: an embedded PostgreSQL is started with its data in `embeddedDataDir`. */
  databaseUrl: string | undefined;
  /**
   * APP_DATABASE_URL: how the request pool logs in (as custodian_app). Unset: DATABASE_URL's
   * server and database as custodian_app, with a password derived from the owner's.
   */
  appDatabaseUrl: string | undefined;
  /** Region databases by storage location code (STORAGE_LOCATION_DATABASES); a location not named gets `<control>_<code>` on the control server. */
  regionDatabaseUrls: Record<string, string>;
  embeddedDataDir: string;
  /** MASTER_KEY (32 bytes, base64): wraps every tenant's key-encryption key; required in production. */
  masterKey: Buffer | null;
  /** Without MASTER_KEY (development only): the file the master key is read from, made on first start (MASTER_KEY_FILE). */
  masterKeyFile: string;
  /** MASTER_KEY_VERSION: the version of MASTER_KEY (a new master key takes the next). */
  masterKeyVersion: number;
  /** MASTER_KEY_PREVIOUS ("1:base64,2:base64"): older master keys, to unwrap until `npm run rotate-keys -- --master` has re-wrapped everything. */
  masterKeysPrevious: Map<number, Buffer>;
  /** KEYSTORE_DATABASE_URL: the server the regions' key stores are made on (`<region database>_keys`); required in production unless KEYSTORE_DATABASES names every location. */
  keystoreServerUrl: string | undefined;
  /** KEYSTORE_DATABASES: a location's key store database by code, overriding the server's. */
  keystoreUrls: Record<string, string>;
  /** KEYSTORE_SAME_SERVER_UNSAFE=1: production may keep key stores on the data's server (drills, benchmarks on one machine; never real data). */
  keystoreSameServerUnsafe: boolean;
  jwtSecret: string;
  /** True when JWT_SECRET was not set and the development default is used. */
  jwtSecretIsDefault: boolean;
  /** JWT_PUBLIC_KEY (PEM): tokens are then RS256, verified with this key only. */
  jwtPublicKey: KeyObject | null;
  /** JWT_ISSUER / JWT_AUDIENCE: checked in every token when set. */
  jwtIssuer: string | null;
  jwtAudience: string | null;
  /**
   * JWT_JWKS_URL: tokens come from an identity provider and are verified (RS256 or ES256) against
   * its key set, fetched and cached (JWT_JWKS_TIMEOUT_MS per fetch, default 5 s; refetched for an
   * unknown key id at most every JWT_JWKS_COOLDOWN_MS, default 30 s). The HS256 secret then makes
   * no tokens.
   */
  jwtJwks: { url: URL; timeoutMs: number; cooldownMs: number } | null;
  /** EXPLORER=on|off: the GraphQL explorer page at GET /graphql; default on, off when NODE_ENV=production. */
  explorer: boolean;
  /** METRICS_TOKEN: /metrics answers a scraper that sends it as its bearer token; unset, there is no /metrics. */
  metricsToken: string | null;
  /** Which token claims hold the role, the tenant and the data subject (JWT_ROLE_CLAIM, ...). */
  jwtClaims: ClaimNames;
  /** Requests per principal (or client address, anonymously) per minute; null: no limit. */
  rateLimitPerMinute: number | null;
  logLevel: LogLevel;
  /** Adds the OPERATOR-only `setTestClock` mutation; never in production. */
  testClock: boolean;
  /** Stack traces in error responses; never in production. */
  debugErrors: boolean;
  /** Largest accepted request body, in bytes. */
  bodyLimitBytes: number;
  /** How long a stop waits for in-flight requests (SHUTDOWN_TIMEOUT_MS, default 10 s); past it, their connections are cut. */
  shutdownTimeoutMs: number;
  /**
   * Signs audit checkpoints: AUDIT_SIGNING_KEY (an Ed25519 private key, PEM), required in
   * production; elsewhere a development key derived from the JWT secret.
   */
  auditSigner: AuditSigner;
  /** MEMORY_LIMIT_MB: new requests are refused (503) while the process holds this much; unset: three quarters of its heap limit. */
  memoryLimitBytes: number | undefined;
  /** OPENED_VALUES_MB: what record values this process opened, kept beside their cached keys (0: none kept). */
  openedValuesBytes: number;
  /** Milliseconds between scheduled retention runs; null when the schedule is off. */
  retentionIntervalMs: number | null;
  /** WEBHOOK_ALLOW_PRIVATE_NETWORKS=1: webhook receivers on loopback and private networks (development, tests); refused in production. */
  webhookAllowPrivate: boolean;
  /** WEBHOOK_DELIVERY=off: this instance delivers no webhooks (others do; events are kept either way). */
  webhookDelivery: boolean;
  /** WEBHOOK_LEASE: how long an instance holds a delivery it took; one that died mid-attempt frees it after this. */
  webhookLeaseMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = "ConfigError";
  }
}

/** Only for development: a production start without JWT_SECRET is refused. */
export const DEVELOPMENT_JWT_SECRET = "custodian-development-secret-do-not-use-in-production";
const MIN_SECRET_LENGTH = 32;

function parseFlag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return false;
  if (["1", "true"].includes(raw.toLowerCase())) return true;
  if (["0", "false"].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `must be 1, 0, true or false (got "${raw}")`);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration such as 90s, 15m or 1h (a bare number is seconds); "off" disables. */
export function parseDuration(env: NodeJS.ProcessEnv, name: string, fallbackMs: number, minMs: number): number | null {
  const raw = env[name]?.trim();
  if (!raw) return fallbackMs;
  if (raw === "off") return null;
  const match = /^(\d+)(ms|s|m|h)?$/.exec(raw);
  const ms = match ? Number(match[1]) * DURATION_UNITS[match[2] ?? "s"] : NaN;
  if (!Number.isSafeInteger(ms) || ms < minMs) {
    throw new ConfigError(name, `must be a duration of at least ${minMs / 1000} s such as 90s, 15m or 1h, or "off" (got "${raw}")`);
  }
  return ms;
}

function parseInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}

/** `STORAGE_LOCATION_DATABASES="EU=postgres://…,US=postgres://…"` (or KEYSTORE_DATABASES): a database per location. */
function parseRegionDatabases(env: NodeJS.ProcessEnv, name = "STORAGE_LOCATION_DATABASES"): Record<string, string> {
  const raw = env[name];
  const urls: Record<string, string> = {};
  if (!raw) return urls;
  for (const entry of raw.split(",")) {
    const at = entry.indexOf("=");
    const code = entry.slice(0, at).trim();
    if (at <= 0 || !/^[A-Z0-9_]{1,20}$/.test(code)) throw new ConfigError(name, "expects CODE=postgres://… pairs separated by commas");
    if (urls[code]) throw new ConfigError(name, `names ${code} twice`);
    urls[code] = parseDatabaseUrl({ [`${name} (${code})`]: entry.slice(at + 1).trim() }, `${name} (${code})`)!;
  }
  return urls;
}

/** MASTER_KEY, required in production; the error names no byte of a bad key. */
function parseMasterKeyEnv(env: NodeJS.ProcessEnv, production: boolean): Buffer | null {
  const raw = env.MASTER_KEY;
  if (!raw) {
    if (production) throw new ConfigError("MASTER_KEY", "is required when NODE_ENV=production (32 random bytes in base64: openssl rand -base64 32)");
    return null;
  }
  try {
    return parseMasterKey(raw);
  } catch (error) {
    throw new ConfigError("MASTER_KEY", (error as Error).message.replace(/^The master key /, ""));
  }
}

function parseDatabaseUrl(env: NodeJS.ProcessEnv, name = "DATABASE_URL"): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The URL may hold a password: never echo it.
    throw new ConfigError(name, "is not a valid URL (expected postgres://user@host:port/database)");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConfigError(name, "must start with postgres:// or postgresql://");
  }
  return raw;
}

function parseOnOff(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined || value === "") return fallback;
  if (value === "on") return true;
  if (value === "off") return false;
  throw new ConfigError(name, "must be on or off");
}

function parseMetricsToken(env: NodeJS.ProcessEnv): string | null {
  const token = env.METRICS_TOKEN;
  if (!token) return null;
  if (!/^[\x21-\x7e]{16,}$/.test(token)) throw new ConfigError("METRICS_TOKEN", "must be at least 16 printable characters, no spaces");
  return token;
}

function parseJwks(env: NodeJS.ProcessEnv): Config["jwtJwks"] {
  const raw = env.JWT_JWKS_URL;
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("JWT_JWKS_URL", "is not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ConfigError("JWT_JWKS_URL", "must be an https:// (or http://) URL");
  return {
    url,
    timeoutMs: parseInteger(env, "JWT_JWKS_TIMEOUT_MS", 5000, 100, 60_000),
    cooldownMs: parseInteger(env, "JWT_JWKS_COOLDOWN_MS", 30_000, 0, 3_600_000),
  };
}

/** A claim name: a JSON member name as identity providers write them (e.g. roles, extension_tenantId, https://example.com/role). */
function parseClaimName(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name];
  if (value === undefined || value === "") return fallback;
  if (!/^[\x21-\x7e]{1,200}$/.test(value)) throw new ConfigError(name, "must be a claim name (printable, no spaces)");
  return value;
}

/** MASTER_KEY_PREVIOUS="1:base64,2:base64": each older master key by its version; errors name no byte of a key. */
function parsePreviousMasterKeys(env: NodeJS.ProcessEnv): Map<number, Buffer> {
  const keys = new Map<number, Buffer>();
  for (const entry of (env.MASTER_KEY_PREVIOUS ?? "").split(",").filter((e) => e.trim())) {
    const at = entry.indexOf(":");
    const version = Number(entry.slice(0, at).trim());
    if (at <= 0 || !Number.isInteger(version) || version < 1 || keys.has(version)) {
      throw new ConfigError("MASTER_KEY_PREVIOUS", "expects version:base64 pairs separated by commas, each version once");
    }
    try {
      keys.set(version, parseMasterKey(entry.slice(at + 1)));
    } catch {
      throw new ConfigError("MASTER_KEY_PREVIOUS", `version ${version} must be 32 bytes in base64`);
    }
  }
  return keys;
}

/** Where the regions' key stores are; production names them (another cluster than the data, checked at open). */
function keystoreConfig(env: NodeJS.ProcessEnv, production: boolean): Pick<Config, "keystoreServerUrl" | "keystoreUrls" | "keystoreSameServerUnsafe"> {
  const keystoreServerUrl = parseDatabaseUrl(env, "KEYSTORE_DATABASE_URL");
  const keystoreUrls = parseRegionDatabases(env, "KEYSTORE_DATABASES");
  const keystoreSameServerUnsafe = parseFlag(env, "KEYSTORE_SAME_SERVER_UNSAFE");
  if (production && !keystoreSameServerUnsafe && !keystoreServerUrl && Object.keys(keystoreUrls).length === 0) {
    throw new ConfigError("KEYSTORE_DATABASE_URL", "is required when NODE_ENV=production (or KEYSTORE_DATABASES): keys must not share the data's backups");
  }
  return { keystoreServerUrl, keystoreUrls, keystoreSameServerUnsafe };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const nodeEnv = env.NODE_ENV || "development";
  const production = nodeEnv === "production";

  const host = env.HOST || "127.0.0.1";
  if (/\s/.test(host)) throw new ConfigError("HOST", `must be a host name or address (got "${host}")`);

  const logLevel = (env.LOG_LEVEL || "info") as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")} (got "${env.LOG_LEVEL}")`);
  }

  const jwtJwks = parseJwks(env);
  let jwtSecret = env.JWT_SECRET ?? "";
  const jwtSecretIsDefault = jwtSecret === "";
  if (jwtSecretIsDefault) {
    // With an identity provider the secret signs no token; it still derives development keys.
    if (production && !jwtJwks) throw new ConfigError("JWT_SECRET", "is required when NODE_ENV=production");
    jwtSecret = DEVELOPMENT_JWT_SECRET;
  } else if (Buffer.byteLength(jwtSecret, "utf8") < MIN_SECRET_LENGTH) {
    throw new ConfigError("JWT_SECRET", `must be at least ${MIN_SECRET_LENGTH} bytes long`);
  }
  let jwtPublicKey: KeyObject | null = null;
  if (env.JWT_PUBLIC_KEY) {
    try {
      jwtPublicKey = createPublicKey(env.JWT_PUBLIC_KEY.replace(/\\n/g, "\n"));
    } catch {
      throw new ConfigError("JWT_PUBLIC_KEY", "must be an RSA public key in PEM (SPKI) form");
    }
    if (jwtPublicKey.asymmetricKeyType !== "rsa") throw new ConfigError("JWT_PUBLIC_KEY", "must be an RSA public key (tokens are RS256)");
  }
  if (jwtJwks && jwtPublicKey)
    throw new ConfigError("JWT_PUBLIC_KEY", "must not be set beside JWT_JWKS_URL: the identity provider's key set is the one source of keys");
  if (jwtJwks && !env.JWT_ISSUER) throw new ConfigError("JWT_ISSUER", "is required with JWT_JWKS_URL (the identity provider's issuer)");
  if (jwtJwks && !env.JWT_AUDIENCE) throw new ConfigError("JWT_AUDIENCE", "is required with JWT_JWKS_URL (the audience its tokens carry for this service)");

  let auditSigner: AuditSigner;
  if (env.AUDIT_SIGNING_KEY) {
    try {
      auditSigner = AuditSigner.fromPem(env.AUDIT_SIGNING_KEY.replace(/\\n/g, "\n"));
    } catch {
      throw new ConfigError("AUDIT_SIGNING_KEY", "must be an Ed25519 private key in PEM (PKCS#8) form");
    }
  } else if (production) {
    throw new ConfigError("AUDIT_SIGNING_KEY", "is required when NODE_ENV=production");
  } else {
    auditSigner = AuditSigner.development(jwtSecret);
  }
  const previousKeys = (env.AUDIT_TRUSTED_PUBLIC_KEYS ?? "").replace(/\\n/g, "\n").match(/-----BEGIN PUBLIC KEY-----[^-]+-----END PUBLIC KEY-----/g) ?? [];
  try {
    if (env.AUDIT_TRUSTED_PUBLIC_KEYS?.trim() && previousKeys.length === 0) throw new Error("no key");
    auditSigner.trusting(previousKeys);
  } catch {
    throw new ConfigError("AUDIT_TRUSTED_PUBLIC_KEYS", "must hold Ed25519 public keys in PEM (SPKI) form");
  }

  const testClock = parseFlag(env, "TEST_CLOCK");
  if (testClock && production) throw new ConfigError("TEST_CLOCK", "must not be set when NODE_ENV=production");
  const debugErrors = parseFlag(env, "DEBUG_ERRORS");
  if (debugErrors && production) throw new ConfigError("DEBUG_ERRORS", "must not be set when NODE_ENV=production");
  const webhookAllowPrivate = parseFlag(env, "WEBHOOK_ALLOW_PRIVATE_NETWORKS");
  if (webhookAllowPrivate && production) throw new ConfigError("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "must not be set when NODE_ENV=production");

  return {
    nodeEnv,
    production,
    port: parseInteger(env, "PORT", 4000, 0, 65535),
    host,
    auditSigner,
    memoryLimitBytes: env.MEMORY_LIMIT_MB ? parseInteger(env, "MEMORY_LIMIT_MB", 0, 64, 1_048_576) * 1024 * 1024 : undefined,
    openedValuesBytes: parseInteger(env, "OPENED_VALUES_MB", 64, 0, 65_536) * 1024 * 1024,
    databaseUrl: parseDatabaseUrl(env),
    appDatabaseUrl: parseDatabaseUrl(env, "APP_DATABASE_URL"),
    regionDatabaseUrls: parseRegionDatabases(env),
    embeddedDataDir: env.EMBEDDED_PG_DIR || ".data/postgres",
    masterKey: parseMasterKeyEnv(env, production),
    masterKeyFile: env.MASTER_KEY_FILE || ".data/master.key",
    masterKeyVersion: parseInteger(env, "MASTER_KEY_VERSION", 1, 1, 1_000_000),
    masterKeysPrevious: parsePreviousMasterKeys(env),
    ...keystoreConfig(env, production),
    jwtSecret,
    jwtSecretIsDefault,
    logLevel,
    testClock,
    debugErrors,
    bodyLimitBytes: parseInteger(env, "BODY_LIMIT_BYTES", 8 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    shutdownTimeoutMs: parseInteger(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    retentionIntervalMs: parseDuration(env, "RETENTION_INTERVAL", 3_600_000, 1000),
    jwtPublicKey,
    jwtIssuer: env.JWT_ISSUER || null,
    jwtAudience: env.JWT_AUDIENCE || null,
    jwtJwks,
    metricsToken: parseMetricsToken(env),
    explorer: parseOnOff(env, "EXPLORER", !production),
    jwtClaims: {
      role: parseClaimName(env, "JWT_ROLE_CLAIM", DEFAULT_CLAIM_NAMES.role),
      tenant: parseClaimName(env, "JWT_TENANT_CLAIM", DEFAULT_CLAIM_NAMES.tenant),
      dataSubject: parseClaimName(env, "JWT_DATA_SUBJECT_CLAIM", DEFAULT_CLAIM_NAMES.dataSubject),
    },
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE === "off" ? null : parseInteger(env, "RATE_LIMIT_PER_MINUTE", 600, 1, 1_000_000),
    webhookAllowPrivate,
    webhookDelivery: parseOnOff(env, "WEBHOOK_DELIVERY", true),
    webhookLeaseMs: parseDuration(env, "WEBHOOK_LEASE", 60_000, 15_000) ?? 60_000,
  };
}
