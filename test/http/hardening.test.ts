import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { ConfigError, loadConfig } from "../../src/config";
import { signToken, verifyToken } from "../../src/shared/auth/jwt";
import { Role } from "../../src/shared/auth/role";
import { TEST_SECRET, type TestApp, principals, startTestApp } from "../helpers/app";
import { PRODUCTION_KEY_ENV } from "../helpers/production-env";

const unauthenticated = (e: unknown) => (e as { extensions?: { code?: string } }).extensions?.code === "UNAUTHENTICATED";

describe("rate limiting per principal", () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ config: { rateLimitPerMinute: 3 } });
  });
  after(() => app.close());

  const post = (token?: string) =>
    fetch(app.server.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: "{ viewer { role } }" }),
    });

  it("answers 429 RATE_LIMITED with Retry-After once a principal exceeds its limit; others are unaffected", async () => {
    const mine = await app.token(principals.operator());
    for (let i = 0; i < 3; i++) assert.equal((await post(mine)).status, 200);
    const limited = await post(mine);
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    const body: any = await limited.json();
    assert.equal(body.errors[0].extensions.code, "RATE_LIMITED");
    assert.match(body.errors[0].message, /retry after \d+ s/);
    assert.equal((await post(await app.token(principals.partner()))).status, 200, "another principal has its own budget");
  });

  it("takes its limit from RATE_LIMIT_PER_MINUTE (default 600, or off)", () => {
    assert.equal(loadConfig({}).rateLimitPerMinute, 600);
    assert.equal(loadConfig({ RATE_LIMIT_PER_MINUTE: "50" }).rateLimitPerMinute, 50);
    assert.equal(loadConfig({ RATE_LIMIT_PER_MINUTE: "off" }).rateLimitPerMinute, null);
    assert.throws(() => loadConfig({ RATE_LIMIT_PER_MINUTE: "0" }), ConfigError);
  });
});

const SIGNING_KEY = String(generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));

describe("tokens", () => {
  it("needs a secret of at least 32 bytes", () => {
    assert.throws(
      () => loadConfig({ NODE_ENV: "production", JWT_SECRET: "x".repeat(31), AUDIT_SIGNING_KEY: SIGNING_KEY, ...PRODUCTION_KEY_ENV }),
      (e: unknown) => e instanceof ConfigError && /32 bytes/.test(e.message),
    );
    assert.equal(
      loadConfig({ NODE_ENV: "production", JWT_SECRET: "é".repeat(16), AUDIT_SIGNING_KEY: SIGNING_KEY, ...PRODUCTION_KEY_ENV }).jwtSecret.length,
      16,
      "16 two-byte characters are 32 bytes",
    );
  });

  it("checks issuer and audience when configured", async () => {
    const keys = { secret: TEST_SECRET, issuer: "https://id.example", audience: "custodian" };
    const good = await signToken({ subject: "op", role: Role.OPERATOR }, keys);
    assert.equal((await verifyToken(good, keys)).role, Role.OPERATOR);
    const noIssuer = await signToken({ subject: "op", role: Role.OPERATOR }, TEST_SECRET);
    await assert.rejects(verifyToken(noIssuer, keys), unauthenticated);
    const otherAudience = await signToken({ subject: "op", role: Role.OPERATOR }, { ...keys, audience: "someone-else" });
    await assert.rejects(verifyToken(otherAudience, keys), unauthenticated);
    assert.deepEqual(
      [loadConfig({ JWT_ISSUER: "https://id.example", JWT_AUDIENCE: "custodian" }).jwtIssuer, loadConfig({ JWT_AUDIENCE: "custodian" }).jwtAudience],
      ["https://id.example", "custodian"],
    );
  });

  it("verifies RS256 tokens with a configured public key, and then only those", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
    const config = loadConfig({ JWT_PUBLIC_KEY: pem.replace(/\n/g, "\\n") });
    const keys = { secret: config.jwtSecret, publicKey: config.jwtPublicKey };
    const rs256 = await new SignJWT({ role: "OPERATOR" })
      .setProtectedHeader({ alg: "RS256" })
      .setSubject("op")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(privateKey);
    assert.equal((await verifyToken(rs256, keys)).role, Role.OPERATOR);
    const hs256 = await signToken({ subject: "op", role: Role.OPERATOR }, config.jwtSecret);
    await assert.rejects(verifyToken(hs256, keys), unauthenticated, "the shared secret no longer makes tokens");
    assert.throws(
      () => loadConfig({ JWT_PUBLIC_KEY: "not a key" }),
      (e: unknown) => e instanceof ConfigError && e.variable === "JWT_PUBLIC_KEY",
    );
  });
});
