import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { SignJWT, UnsecuredJWT } from "jose";
import { signToken, TokenVerifier, verifyToken } from "../../src/shared/auth/jwt";
import { InvalidClaimsError, principalFromClaims } from "../../src/shared/auth/principal";
import { Role } from "../../src/shared/auth/role";
import { canSeeTenant } from "../../src/shared/auth/scope";
import { TEST_SECRET, type TestApp, principals, startTestApp } from "../helpers/app";

const tenantId = randomUUID();

describe("principalFromClaims (claims must fit the role)", () => {
  it("accepts each role with the claims it needs", () => {
    assert.deepEqual(principalFromClaims({ sub: "op", role: "OPERATOR" }), { subject: "op", role: Role.OPERATOR, tenantId: null, dataSubjectId: null });
    assert.equal(principalFromClaims({ sub: "a", role: "TENANT_ADMIN", tenantId }).tenantId, tenantId);
    const subjectId = randomUUID();
    assert.equal(principalFromClaims({ sub: "s", role: "DATA_SUBJECT", tenantId, dataSubjectId: subjectId }).dataSubjectId, subjectId);
  });

  it("refuses tenant roles without a tenant, and a data subject without its subject", () => {
    for (const role of ["TENANT_ADMIN", "INTEGRATION", "DATA_SUBJECT", "AUDITOR"]) {
      assert.throws(() => principalFromClaims({ sub: "x", role }), InvalidClaimsError);
      assert.throws(() => principalFromClaims({ sub: "x", role, tenantId: "not-a-uuid" }), InvalidClaimsError);
    }
    assert.throws(() => principalFromClaims({ sub: "x", role: "DATA_SUBJECT", tenantId }), InvalidClaimsError);
  });

  it("refuses unknown roles, missing subjects and claims that do not belong to the role", () => {
    assert.throws(() => principalFromClaims({ sub: "x", role: "ROOT" }), InvalidClaimsError);
    assert.throws(() => principalFromClaims({ role: "OPERATOR" }), InvalidClaimsError);
    assert.throws(() => principalFromClaims({ sub: "x", role: "OPERATOR", tenantId }), InvalidClaimsError);
    assert.throws(() => principalFromClaims({ sub: "x", role: "TENANT_ADMIN", tenantId, dataSubjectId: randomUUID() }), InvalidClaimsError);
  });
});

describe("canSeeTenant (tenant scope)", () => {
  it("lets operators see every tenant, tenant roles only their own, partners none", () => {
    const other = randomUUID();
    assert.equal(canSeeTenant(principals.operator(), other), true);
    assert.equal(canSeeTenant(principals.tenantAdmin(tenantId), tenantId), true);
    assert.equal(canSeeTenant(principals.tenantAdmin(tenantId), tenantId.toUpperCase()), true);
    assert.equal(canSeeTenant(principals.tenantAdmin(tenantId), other), false);
    assert.equal(canSeeTenant(principals.auditor(tenantId), other), false);
    assert.equal(canSeeTenant(principals.partner(), tenantId), false);
  });
});

describe("verifyToken (HS256 with JWT_SECRET)", () => {
  const key = new TextEncoder().encode(TEST_SECRET);

  it("accepts a token it signed", async () => {
    const token = await signToken({ subject: "op", role: Role.OPERATOR }, TEST_SECRET);
    assert.equal((await verifyToken(token, TEST_SECRET)).role, Role.OPERATOR);
  });

  it("refuses expired, wrongly signed, unsigned, exp-less and malformed tokens with UNAUTHENTICATED", async () => {
    const expired = await new SignJWT({ role: "OPERATOR" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("op")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(key);
    const wrongKey = await signToken({ subject: "op", role: Role.OPERATOR }, `${TEST_SECRET}-other`);
    const unsigned = new UnsecuredJWT({ role: "OPERATOR" }).setSubject("op").setExpirationTime("1h").encode();
    const noExp = await new SignJWT({ role: "OPERATOR" }).setProtectedHeader({ alg: "HS256" }).setSubject("op").sign(key);
    const badClaims = await new SignJWT({ role: "TENANT_ADMIN" }).setProtectedHeader({ alg: "HS256" }).setSubject("a").setExpirationTime("1h").sign(key);
    for (const token of [expired, wrongKey, unsigned, noExp, badClaims, "abc.def.ghi", "garbage"]) {
      await assert.rejects(verifyToken(token, TEST_SECRET), (e: { extensions?: { code?: string } }) => e.extensions?.code === "UNAUTHENTICATED");
    }
  });

  it("reads only `Bearer <token>`; no header is anonymous", async () => {
    const tokens = new TokenVerifier({ secret: TEST_SECRET });
    assert.equal(await tokens.principalOf(undefined), null);
    await assert.rejects(tokens.principalOf("Basic dXNlcjpwYXNz"), (e: { extensions?: { code?: string } }) => e.extensions?.code === "UNAUTHENTICATED");
  });
});

describe("TokenVerifier (remembers verified tokens)", () => {
  const unauthenticated = (e: { extensions?: { code?: string } }) => e.extensions?.code === "UNAUTHENTICATED";

  it("accepts only the same bytes: a remembered token does not vouch for a tampered copy", async () => {
    const tokens = new TokenVerifier({ secret: TEST_SECRET });
    const token = await signToken({ subject: "op", role: Role.OPERATOR }, TEST_SECRET);
    assert.equal((await tokens.principalOf(`Bearer ${token}`))?.role, Role.OPERATOR);
    const [header, , signature] = token.split(".");
    const payload = Buffer.from(JSON.stringify({ sub: "op", role: "AUDITOR", tenantId, exp: Math.floor(Date.now() / 1000) + 3600 })).toString("base64url");
    await assert.rejects(tokens.principalOf(`Bearer ${header}.${payload}.${signature}`), unauthenticated);
    const flipped = signature.startsWith("A") ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    await assert.rejects(tokens.principalOf(`Bearer ${header}.${token.split(".")[1]}.${flipped}`), unauthenticated);
  });

  it("stops accepting a remembered token at its expiry, and does not remember refusals", async () => {
    let now = Date.now();
    const tokens = new TokenVerifier({ secret: TEST_SECRET }, { ttlMs: 10 * 60_000, now: () => now });
    const token = await signToken({ subject: "op", role: Role.OPERATOR, expiresIn: "2m" }, TEST_SECRET);
    assert.equal((await tokens.principalOf(`Bearer ${token}`))?.role, Role.OPERATOR);
    now += 60_000;
    assert.equal((await tokens.principalOf(`Bearer ${token}`))?.role, Role.OPERATOR);
    now += 61_000;
    await assert.rejects(tokens.principalOf(`Bearer ${token}`), unauthenticated);
    await assert.rejects(tokens.principalOf(`Bearer ${token}`), unauthenticated);
  });

  it("forgets the oldest token beyond its size, and a principal it hands out cannot be changed", async () => {
    const tokens = new TokenVerifier({ secret: TEST_SECRET }, { maxEntries: 2 });
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((subject) => signToken({ subject, role: Role.OPERATOR }, TEST_SECRET)));
    const first = await tokens.principalOf(`Bearer ${a}`);
    await tokens.principalOf(`Bearer ${b}`);
    await tokens.principalOf(`Bearer ${c}`);
    assert.equal((tokens as unknown as { verified: Map<string, unknown> }).verified.size, 2);
    assert.notEqual(await tokens.principalOf(`Bearer ${a}`), first);
    assert.throws(() => {
      (first as { role: string }).role = "OPERATOR_X";
    }, TypeError);
  });
});

describe("authentication over HTTP", () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  const post = (headers: Record<string, string>, body: unknown) =>
    fetch(app.server.url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

  it("answers a real token", async () => {
    const token = await app.token(principals.tenantAdmin(tenantId));
    const response = await post({ authorization: `Bearer ${token}` }, { query: "{ viewer { subject role tenantId dataSubjectId } }" });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { data: { viewer: { subject: "test-admin", role: "TENANT_ADMIN", tenantId, dataSubjectId: null } } });
  });

  it("gives UNAUTHENTICATED without a token, and 401 for a bad one", async () => {
    const anonymous = await post({}, { query: "{ viewer { role } }" });
    const body = (await anonymous.json()) as { errors: Array<{ extensions: { code: string } }> };
    assert.equal(body.errors[0].extensions.code, "UNAUTHENTICATED");

    const forged = await signToken({ subject: "op", role: Role.OPERATOR }, "a-different-secret-of-sufficient-length!!");
    const bad = await post({ authorization: `Bearer ${forged}` }, { query: "{ viewer { role } }" });
    assert.equal(bad.status, 401);
    const badBody = (await bad.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    assert.equal(badBody.errors[0].extensions.code, "UNAUTHENTICATED");
    assert.doesNotMatch(badBody.errors[0].message, /Context creation failed/);
  });
});
