import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";

/**
 * Envelope encryption with node:crypto (never pgcrypto: keys must not travel in SQL text or reach
 * PostgreSQL's logs). AES-256-GCM with a fresh 96-bit nonce per value; the associated data binds
 * each ciphertext to its row, so one moved to another row (or sealed under another key) fails
 * authentication instead of decrypting.
 */

export const KEY_BYTES = 32;
const FORMAT = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A ciphertext that failed authentication: tampered with, moved to another row, or under another key. */
export class IntegrityError extends Error {
  constructor() {
    super("a stored value failed authentication");
  }
}

export function newKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** `format | nonce | tag | ciphertext` of `plaintext` under `key`, bound to `aad`. */
export function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  if (key.length !== KEY_BYTES) throw new Error("an AES-256 key is 32 bytes");
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT]), nonce, cipher.getAuthTag(), body]);
}

/** The plaintext of `sealed`, or IntegrityError when it is not authentic under `key` and `aad`. */
export function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== FORMAT) throw new IntegrityError();
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
  const tag = sealed.subarray(1 + NONCE_BYTES, 1 + NONCE_BYTES + TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.subarray(1 + NONCE_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw new IntegrityError();
  }
}

/** A keyed blind index (HMAC-SHA256): equality lookups without the plaintext in the database. */
export function blindIndex(indexKey: Buffer, value: string): string {
  return createHmac("sha256", indexKey).update(value, "utf8").digest("base64url");
}

/** The associated data of a value: which row, which field, under which key version. */
export function boundTo(parts: Record<string, string | number>): string {
  return Object.entries(parts)
    .map(([k, v]) => `${k}=${v}`)
    .join(";");
}

/**
 * Wraps and unwraps the keys just below it (the tenants' key-encryption keys). The local one
 * holds a master key outside every database; a KMS (Vault transit, a cloud KMS) can take its
 * place behind the same two calls.
 */
export interface KeyProvider {
  /** Names the master key that wraps now (stored beside each wrapped key, for rotation). */
  readonly version: string;
  wrap(key: Buffer, context: string): Promise<Buffer>;
  unwrap(wrapped: Buffer, context: string, version: string): Promise<Buffer>;
}

/** The local master key (MASTER_KEY, or the development key file). */
export class LocalKeyProvider implements KeyProvider {
  readonly version: string;

  constructor(
    private readonly master: Buffer,
    /** Earlier master keys by version, still able to unwrap during a rotation. */
    private readonly previous: ReadonlyMap<string, Buffer> = new Map(),
  ) {
    if (master.length !== KEY_BYTES) throw new Error("the master key is 32 bytes");
    this.version = `local:${createHmac("sha256", master).update("custodian master key id").digest("hex").slice(0, 12)}`;
  }

  async wrap(key: Buffer, context: string): Promise<Buffer> {
    return seal(this.master, key, `wrap;${context}`);
  }

  async unwrap(wrapped: Buffer, context: string, version: string): Promise<Buffer> {
    const master = version === this.version ? this.master : this.previous.get(version);
    if (!master) throw new Error(`the master key ${version} is not configured`);
    return open(master, wrapped, `wrap;${context}`);
  }
}
