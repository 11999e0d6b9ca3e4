import { createSecretKey, type KeyObject } from "node:crypto";
import { SignJWT, createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { DomainError, ErrorCode, UnauthenticatedError } from "../errors";
import { DEFAULT_CLAIM_NAMES, InvalidClaimsError, type ClaimNames, type Principal, principalFromClaims } from "./principal";

const ALGORITHM = "HS256";

// One key object per secret: jose imports a raw secret on every call, but caches the
// imported form of a key object (a tenth of a request's CPU time on the dashboard).
const secretKeys = new Map<string, KeyObject>();

function key(secret: string): KeyObject {
  let keyObject = secretKeys.get(secret);
  if (!keyObject) secretKeys.set(secret, (keyObject = createSecretKey(Buffer.from(secret, "utf8"))));
  return keyObject;
}

/**
 * How tokens are checked: HS256 with the shared secret; or, when a public key is configured,
 * RS256 with it (and only it); or, with an identity provider's key set, RS256 or ES256 with the
 * key its `kid` names there (and only those). Issuer and audience are checked when configured
 * (always with a key set). `claims` says which claims hold the role, tenant and data subject.
 */
export interface TokenKeys {
  secret: string;
  publicKey?: KeyObject | null;
  jwks?: JWTVerifyGetKey | null;
  issuer?: string | null;
  audience?: string | null;
  claims?: ClaimNames;
}

/**
 * An identity provider's key set at `url` (jose's remote set): cached, refetched when a token
 * names a key it does not hold (a rotation) but at most every `cooldownMs`, each fetch given up
 * after `timeoutMs`.
 */
export function remoteKeySet(url: URL, options: { timeoutMs: number; cooldownMs: number }): JWTVerifyGetKey {
  return createRemoteJWKSet(url, { timeoutDuration: options.timeoutMs, cooldownDuration: options.cooldownMs, cacheMaxAge: 10 * 60_000 });
}

/** The identity provider's keys could not be fetched: the caller's token was not judged, so retrying may succeed. */
export class IdentityProviderUnavailableError extends DomainError {
  constructor() {
    super(ErrorCode.INTERNAL_SERVER_ERROR, "The identity provider's signing keys could not be fetched; nothing was done. Retry shortly.", {
      retryable: true,
      http: { status: 503, headers: new Map([["retry-after", "1"]]) },
    });
  }
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
  return (await verify(token, asKeys(keysOrSecret))).principal;
}

async function verify(token: string, keys: TokenKeys, now = Date.now()): Promise<{ principal: Principal; expiresAt: number }> {
  let payload: Record<string, unknown>;
  try {
    const options = {
      algorithms: keys.jwks ? ["RS256", "ES256"] : [keys.publicKey ? "RS256" : ALGORITHM],
      requiredClaims: ["exp", "sub"],
      issuer: keys.issuer ?? undefined,
      audience: keys.audience ?? undefined,
      currentDate: new Date(now),
    };
    ({ payload } = keys.jwks ? await jwtVerify(token, keys.jwks, options) : await jwtVerify(token, keys.publicKey ?? key(keys.secret), options));
  } catch (error) {
    // The provider did not answer (in time, or with a key set): not the token's fault.
    if (keys.jwks && (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || !(error instanceof errors.JOSEError))) {
      throw new IdentityProviderUnavailableError();
    }
    if (error instanceof errors.JWTExpired) throw new UnauthenticatedError("The bearer token has expired; get a new one.");
    if (error instanceof errors.JWTClaimValidationFailed && (error.claim === "iss" || error.claim === "aud")) {
      throw new UnauthenticatedError(`The bearer token was not issued for this service (claim ${error.claim}).`);
    }
    throw new UnauthenticatedError("The bearer token is malformed or its signature is not valid.");
  }
  try {
    return { principal: Object.freeze(principalFromClaims(payload, keys.claims ?? DEFAULT_CLAIM_NAMES)), expiresAt: (payload.exp as number) * 1000 };
  } catch (error) {
    if (error instanceof InvalidClaimsError) throw new UnauthenticatedError(`The bearer token is not usable: ${error.message}.`);
    throw error;
  }
}

/** The token of `Authorization: Bearer <token>`; null when there is no header (an anonymous request). */
function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header === "") return null;
  const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header.trim());
  if (!match) throw new UnauthenticatedError("The Authorization header must be `Bearer <JWT>`.");
  return match[1];
}

/**
 * Reads `Authorization: Bearer <token>` (no header is an anonymous request), with a memory of
 * tokens verified lately: a client sends the same token with every request, and checking its
 * signature each time was about 5% of a dashboard request's CPU. A token verified in
 * the last `ttlMs` is taken from memory until then or its expiry, whichever is first. Entries
 * are keyed by the whole token, signature included, so only the same bytes match; the oldest go
 * first when `maxEntries` is reached. `now` is real time, as for verifyToken.
 */
export class TokenVerifier {
  private readonly verified = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly keys: TokenKeys,
    private readonly options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {},
  ) {}

  async principalOf(header: string | undefined): Promise<Principal | null> {
    const token = bearerToken(header);
    if (token === null) return null;
    const now = (this.options.now ?? Date.now)();
    const known = this.verified.get(token);
    if (known && now < known.until) return known.principal;
    this.verified.delete(token);
    const { principal, expiresAt } = await verify(token, this.keys, now);
    if (this.verified.size >= (this.options.maxEntries ?? 10_000)) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { principal, until: Math.min(expiresAt, now + (this.options.ttlMs ?? 60_000)) });
    return principal;
  }
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
