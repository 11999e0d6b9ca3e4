import type { KeyObject } from "node:crypto";
import { SignJWT, errors, jwtVerify } from "jose";
import { UnauthenticatedError } from "../errors";
import { InvalidClaimsError, type Principal, principalFromClaims } from "./principal";

const ALGORITHM = "HS256";

function key(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/**
 * How tokens are checked: HS256 with the shared secret, or, when a public key is configured,
 * RS256 with it (and only it). Issuer and audience are checked when configured.
 */
export interface TokenKeys {
  secret: string;
  publicKey?: KeyObject | null;
  issuer?: string | null;
  audience?: string | null;
}

function asKeys(keys: string | TokenKeys): TokenKeys {
  return typeof keys === "string" ? { secret: keys } : keys;
}

/**
 * Verifies a bearer token (signature and `exp` required) and returns its principal.
 * Token expiry uses real time, not the service clock: moving the test clock must not
 * make tokens valid again.
 */
export async function verifyToken(token: string, keysOrSecret: string | TokenKeys): Promise<Principal> {
  const keys = asKeys(keysOrSecret);
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, keys.publicKey ?? key(keys.secret), {
      algorithms: [keys.publicKey ? "RS256" : ALGORITHM],
      requiredClaims: ["exp", "sub"],
      issuer: keys.issuer ?? undefined,
      audience: keys.audience ?? undefined,
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new UnauthenticatedError("The bearer token has expired; get a new one.");
    if (error instanceof errors.JWTClaimValidationFailed && (error.claim === "iss" || error.claim === "aud")) {
      throw new UnauthenticatedError(`The bearer token was not issued for this service (claim ${error.claim}).`);
    }
    throw new UnauthenticatedError("The bearer token is malformed or its signature is not valid.");
  }
  try {
    return principalFromClaims(payload);
  } catch (error) {
    if (error instanceof InvalidClaimsError) throw new UnauthenticatedError(`The bearer token is not usable: ${error.message}.`);
    throw error;
  }
}

/** Reads `Authorization: Bearer <token>`; no header means an anonymous request. */
export async function principalFromHeader(header: string | undefined, keys: string | TokenKeys): Promise<Principal | null> {
  if (header === undefined || header === "") return null;
  const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header.trim());
  if (!match) throw new UnauthenticatedError("The Authorization header must be `Bearer <JWT>`.");
  return verifyToken(match[1], keys);
}

export interface TokenRequest {
  subject: string;
  role: Principal["role"];
  tenantId?: string;
  dataSubjectId?: string;
  /** Lifetime, e.g. "12h". */
  expiresIn?: string;
}

/** HS256 tokens for development and tests (with the configured issuer and audience, if any). */
export async function signToken(request: TokenRequest, keysOrSecret: string | TokenKeys): Promise<string> {
  const keys = asKeys(keysOrSecret);
  const claims: Record<string, unknown> = { role: request.role };
  if (request.tenantId) claims.tenantId = request.tenantId;
  if (request.dataSubjectId) claims.dataSubjectId = request.dataSubjectId;
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: ALGORITHM })
    .setSubject(request.subject)
    .setIssuedAt()
    .setExpirationTime(request.expiresIn ?? "12h");
  if (keys.issuer) jwt.setIssuer(keys.issuer);
  if (keys.audience) jwt.setAudience(keys.audience);
  return jwt.sign(key(keys.secret));
}
