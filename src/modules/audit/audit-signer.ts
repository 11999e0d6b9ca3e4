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
  private readonly publicKey: KeyObject;

  private constructor(private readonly privateKey: KeyObject) {
    this.publicKey = createPublicKey(privateKey);
    const der = this.publicKey.export({ type: "spki", format: "der" });
    this.keyId = createHash("sha256").update(der).digest("hex").slice(0, 16);
    this.publicKeyPem = String(this.publicKey.export({ type: "spki", format: "pem" }));
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

  /** True when `signature` is this key's over `message`. */
  verifies(keyId: string, message: string, signature: string): boolean {
    if (keyId !== this.keyId) return false;
    try {
      return verify(null, Buffer.from(message, "utf8"), this.publicKey, Buffer.from(signature, "base64url"));
    } catch {
      return false;
    }
  }
}
