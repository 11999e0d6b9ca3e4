import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config";
import { AuditSigner, checkpointMessage } from "../../src/modules/audit/audit-signer";

const pem = (type: "ed25519" | "rsa") => {
  const { privateKey, publicKey } = type === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 1024 }) : generateKeyPairSync("ed25519");
  return { privatePem: String(privateKey.export({ type: "pkcs8", format: "pem" })), publicPem: String(publicKey.export({ type: "spki", format: "pem" })) };
};

describe("audit checkpoint signatures (pure)", () => {
  const message = checkpointMessage({
    chainKey: "7e4a0000-0000-4000-8000-00000000000a",
    seq: 42,
    hash: "a".repeat(64),
    signedAt: new Date("2026-12-01T00:00:00Z"),
  });

  it("verifies its own signature over exactly the message, and nothing else", () => {
    const signer = AuditSigner.fromPem(pem("ed25519").privatePem);
    const signature = signer.sign(message);
    assert.equal(signer.verifies(signer.keyId, message, signature), true);
    assert.equal(signer.verifies(signer.keyId, message.replace("seq=42", "seq=43"), signature), false);
    assert.equal(signer.verifies("0000000000000000", message, signature), false, "a key id it does not hold");
    assert.equal(signer.verifies(signer.keyId, message, "not-a-signature"), false);
  });

  it("after a rotation, still verifies the old key's checkpoints when told to trust it, and only then", () => {
    const old = pem("ed25519");
    const before = AuditSigner.fromPem(old.privatePem);
    const signature = before.sign(message);
    const rotated = pem("ed25519").privatePem;
    assert.equal(AuditSigner.fromPem(rotated).verifies(before.keyId, message, signature), false);
    const config = loadConfig({ AUDIT_SIGNING_KEY: rotated, AUDIT_TRUSTED_PUBLIC_KEYS: old.publicPem.replace(/\n/g, "\\n") });
    assert.notEqual(config.auditSigner.keyId, before.keyId);
    assert.equal(config.auditSigner.verifies(before.keyId, message, signature), true);
  });

  it("refuses trusted keys that are not Ed25519 public keys, without echoing them", () => {
    for (const bad of ["hunter2-not-a-key", pem("rsa").publicPem]) {
      assert.throws(
        () => loadConfig({ AUDIT_TRUSTED_PUBLIC_KEYS: bad }),
        (e: Error) => e instanceof ConfigError && /AUDIT_TRUSTED_PUBLIC_KEYS/.test(e.message) && !e.message.includes("hunter2"),
      );
    }
  });
});
