import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";

/** What a checkpoint signs: one line anyone can rebuild from the checkpoint's fields. */
export function checkpointMessage(c: { chainKey: string; seq: number; hash: string; signedAt: Date }): string {
  return `custodian.audit-checkpoint/1 chain=${c.chainKey} seq=${c.seq} hash=${c.hash} signedAt=${c.signedAt.toISOString()}`;
}

/** PKCS#8 DER of an Ed25519 private key is this prefix and the 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * Signs audit checkpoints with Ed25519 (node:crypto; no dependency). The key comes from
 * AUDIT_SIGNING_KEY, never from the database, so whoever can write the database cannot sign.
 * The key id is the first 16 hex digits of the SHA-256 of the public key (SPKI DER).
 */
export class AuditSigner {
  readonly keyId: string;
  readonly publicKeyPem: string;
  /** Every key whose checkpoints verify: this one, and earlier ones still trusted after a rotation. */
  private readonly trusted = new Map<string, KeyObject>();

  private constructor(private readonly privateKey: KeyObject) {
    const publicKey = createPublicKey(privateKey);
    this.keyId = keyIdOf(publicKey);
    this.publicKeyPem = String(publicKey.export({ type: "spki", format: "pem" }));
    this.trusted.set(this.keyId, publicKey);
  }

  /**
   * Also accepts checkpoints signed with these public keys (PEM, Ed25519): the keys used before a
   * rotation. Without them a rotated key would leave every chain failing at its newest checkpoint.
   */
  trusting(publicKeyPems: readonly string[]): this {
    for (const pem of publicKeyPems) {
      const key = createPublicKey(pem);
      if (key.asymmetricKeyType !== "ed25519") throw new Error("a trusted audit key must be an Ed25519 public key");
      this.trusted.set(keyIdOf(key), key);
    }
    return this;
  }

  /** From a PEM (PKCS#8) Ed25519 private key; throws on anything else. */
  static fromPem(pem: string): AuditSigner {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== "ed25519") throw new Error("the audit signing key must be an Ed25519 key");
    return new AuditSigner(key);
  }

  /**
   * A key derived from a development secret, so a development setup needs no key file and every
   * process of it agrees. Never in production (the configuration refuses it there).
   */
  static development(secret: string): AuditSigner {
    const seed = createHash("sha256").update(`custodian audit signing key\n${secret}`).digest();
    return new AuditSigner(createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" }));
  }

  sign(message: string): string {
    return sign(null, Buffer.from(message, "utf8"), this.privateKey).toString("base64url");
  }

  /** True when `signature` is over `message` by the trusted key `keyId`. */
  verifies(keyId: string, message: string, signature: string): boolean {
    const key = this.trusted.get(keyId);
    if (!key) return false;
    try {
      return verify(null, Buffer.from(message, "utf8"), key, Buffer.from(signature, "base64url"));
    } catch {
      return false;
    }
  }
}

/** The first 16 hex digits of the SHA-256 of the public key (SPKI DER). */
function keyIdOf(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16);
}
