import assert from "node:assert/strict";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from "jose";
import { ConfigError, loadConfig } from "../../src/config";
import { IdentityProviderUnavailableError, remoteKeySet, TokenVerifier, type TokenKeys } from "../../src/shared/auth/jwt";
import { UnauthenticatedError } from "../../src/shared/errors";
import { TEST_SECRET } from "../helpers/app";
import { PRODUCTION_KEY_ENV } from "../helpers/production-env";

/** @own-servers: no database at all; the identity provider's key set is a server of its own. */

const ISSUER = "https://login.example.test/tenant-x/v2.0";
const AUDIENCE = "api://custodian";
const tenantId = randomUUID();

/** An identity provider's key set on loopback: the keys it publishes now, or no answer at all. */
class KeySetServer {
  keys: JWK[] = [];
  hang = false;
  private server!: Server;
  url!: URL;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (this.hang) return; // never answers
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: this.keys }));
    });
    await new Promise<void>((ok) => this.server.listen(0, "127.0.0.1", ok));
    this.url = new URL(`http://127.0.0.1:${(this.server.address() as { port: number }).port}/jwks`);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((ok) => this.server.close(() => ok()));
  }
}

interface Signer {
  kid: string;
  alg: "RS256" | "ES256";
  privateKey: CryptoKey;
  jwk: JWK;
  spki: string;
}

async function signer(kid: string, alg: "RS256" | "ES256"): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" }, spki: await exportSPKI(publicKey) };
}

function token(by: Signer, claims: Record<string, unknown>, options: { issuer?: string; expiresIn?: string | number } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: by.alg, kid: by.kid })
    .setSubject("user@example.test")
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "5m")
    .sign(by.privateKey);
}

describe("tokens from an identity provider (JWT_JWKS_URL)", () => {
  const idp = new KeySetServer();
  let rsa: Signer;
  let ec: Signer;
  let verifier: TokenVerifier;
  const keysWith = (extra: Partial<TokenKeys> = {}): TokenKeys => ({
    secret: TEST_SECRET,
    jwks: remoteKeySet(idp.url, { timeoutMs: 1000, cooldownMs: 0 }),
    issuer: ISSUER,
    audience: AUDIENCE,
    ...extra,
  });
  const principalOf = (jwt: string, on = verifier) => on.principalOf(`Bearer ${jwt}`);

  before(async () => {
    await idp.start();
    rsa = await signer("rsa-1", "RS256");
    ec = await signer("ec-1", "ES256");
    idp.keys = [rsa.jwk, ec.jwk];
    verifier = new TokenVerifier(keysWith());
  });
  after(() => idp.stop());

  it("accepts RS256 and ES256 tokens signed with a key of the set", async () => {
    assert.equal((await principalOf(await token(rsa, { role: "OPERATOR" })))?.role, "OPERATOR");
    const admin = await principalOf(await token(ec, { role: "TENANT_ADMIN", tenantId }));
    assert.deepEqual({ ...admin }, { subject: "user@example.test", role: "TENANT_ADMIN", tenantId, dataSubjectId: null });
  });

  it("fetches the set again for a key id it does not know (a rotation)", async () => {
    const rotated = await signer("rsa-2", "RS256");
    idp.keys = [rotated.jwk];
    try {
      assert.equal((await principalOf(await token(rotated, { role: "AUDITOR", tenantId })))?.role, "AUDITOR");
      // The retired key's tokens are refused once the set no longer holds it.
      await assert.rejects(principalOf(await token(rsa, { role: "PARTNER" })), UnauthenticatedError);
    } finally {
      idp.keys = [rsa.jwk, ec.jwk];
    }
  });

  it("refuses expired, unsigned, HS256 (with the public key or the shared secret) and other issuers' tokens with UNAUTHENTICATED", async () => {
    const refused = async (jwt: string, message?: RegExp) => {
      const error = await principalOf(jwt).then(
        () => assert.fail("accepted"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof UnauthenticatedError, String(error));
      assert.equal((error.extensions.http as { status: number }).status, 401);
      if (message) assert.match(error.message, message);
    };
    await refused(await token(rsa, { role: "OPERATOR" }, { expiresIn: Math.floor(Date.now() / 1000) - 60 }), /expired/);
    await refused(new UnsecuredJWT({ role: "OPERATOR" }).setSubject("x").setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime("5m").encode());
    const hs256 = (secret: Uint8Array) =>
      new SignJWT({ role: "OPERATOR" })
        .setProtectedHeader({ alg: "HS256", kid: rsa.kid })
        .setSubject("x")
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime("5m")
        .sign(secret);
    await refused(await hs256(new TextEncoder().encode(rsa.spki)));
    await refused(await hs256(new TextEncoder().encode(TEST_SECRET)));
    await refused(await token(rsa, { role: "OPERATOR" }, { issuer: "https://evil.example.test" }), /not issued for this service/);
  });

  it("maps the provider's claim names; a role array must hold exactly one of Custodian's roles", async () => {
    const entra = new TokenVerifier(keysWith({ claims: { role: "roles", tenant: "extension_tenantId", dataSubject: "extension_subjectId" } }));
    const admin = await principalOf(await token(rsa, { roles: ["Directory.Reader", "TENANT_ADMIN"], extension_tenantId: tenantId }), entra);
    assert.equal(admin?.role, "TENANT_ADMIN");
    assert.equal(admin?.tenantId, tenantId);
    await assert.rejects(principalOf(await token(rsa, { roles: ["OPERATOR", "AUDITOR"] }), entra), /exactly one of the contract's roles \(it holds 2\)/);
    await assert.rejects(principalOf(await token(rsa, { roles: ["Directory.Reader"] }), entra), /exactly one/);
    await assert.rejects(
      principalOf(await token(rsa, { role: "OPERATOR" }), entra),
      /claim `roles`/,
      "the default name is not read when another is configured",
    );
  });

  it("gives up on a key set that does not answer after its timeout, as retryable (503), not as a bad token", async () => {
    const silent = new KeySetServer();
    await silent.start();
    silent.hang = true;
    try {
      const waiting = new TokenVerifier({ ...keysWith(), jwks: remoteKeySet(silent.url, { timeoutMs: 300, cooldownMs: 0 }) });
      const error = await principalOf(await token(rsa, { role: "OPERATOR" }), waiting).then(
        () => assert.fail("accepted"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof IdentityProviderUnavailableError, String(error));
      assert.equal((error.extensions.http as { status: number }).status, 503);
    } finally {
      await silent.stop();
    }
  });

  it("is configured with an issuer and an audience, and never beside JWT_PUBLIC_KEY", () => {
    const env = { JWT_JWKS_URL: "https://login.example.test/keys", JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE };
    // In production the provider makes the tokens: no JWT_SECRET is needed.
    const auditKey = String(generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));
    assert.equal(loadConfig({ ...env, NODE_ENV: "production", AUDIT_SIGNING_KEY: auditKey, ...PRODUCTION_KEY_ENV }).jwtJwks?.url.href, env.JWT_JWKS_URL);
    assert.throws(
      () => loadConfig({ JWT_JWKS_URL: env.JWT_JWKS_URL, JWT_AUDIENCE: AUDIENCE }),
      (e: unknown) => e instanceof ConfigError && e.variable === "JWT_ISSUER",
    );
    assert.throws(
      () => loadConfig({ JWT_JWKS_URL: env.JWT_JWKS_URL, JWT_ISSUER: ISSUER }),
      (e: unknown) => e instanceof ConfigError && e.variable === "JWT_AUDIENCE",
    );
    assert.throws(
      () => loadConfig({ ...env, JWT_PUBLIC_KEY: rsa.spki }),
      (e: unknown) => e instanceof ConfigError && e.variable === "JWT_PUBLIC_KEY",
    );
    assert.throws(
      () => loadConfig({ ...env, JWT_JWKS_URL: "ftp://x" }),
      (e: unknown) => e instanceof ConfigError && e.variable === "JWT_JWKS_URL",
    );
    assert.deepEqual(loadConfig({ ...env, JWT_ROLE_CLAIM: "roles" }).jwtClaims, { role: "roles", tenant: "tenantId", dataSubject: "dataSubjectId" });
  });
});
