import { SignJWT, errors, jwtVerify } from "jose";
import { UnauthenticatedError } from "../errors";
import { InvalidClaimsError, type Principal, principalFromClaims } from "./principal";

const ALGORITHM = "HS256";

function key(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/**
 * Verifies a bearer token (HS256, signature and `exp` required) and returns its principal.
 * Token expiry uses real time, not the service clock: moving the test clock must not
 * make tokens valid again.
 */
export async function verifyToken(token: string, secret: string): Promise<Principal> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key(secret), { algorithms: [ALGORITHM], requiredClaims: ["exp", "sub"] }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new UnauthenticatedError("The bearer token has expired; get a new one.");
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
export async function principalFromHeader(header: string | undefined, secret: string): Promise<Principal | null> {
  if (header === undefined || header === "") return null;
  const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header.trim());
  if (!match) throw new UnauthenticatedError("The Authorization header must be `Bearer <JWT>`.");
  return verifyToken(match[1], secret);
}

export interface TokenRequest {
  subject: string;
  role: Principal["role"];
  tenantId?: string;
  dataSubjectId?: string;
  /** Lifetime, e.g. "12h". */
  expiresIn?: string;
}

export async function signToken(request: TokenRequest, secret: string): Promise<string> {
  const claims: Record<string, unknown> = { role: request.role };
  if (request.tenantId) claims.tenantId = request.tenantId;
  if (request.dataSubjectId) claims.dataSubjectId = request.dataSubjectId;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: ALGORITHM })
    .setSubject(request.subject)
    .setIssuedAt()
    .setExpirationTime(request.expiresIn ?? "12h")
    .sign(key(secret));
}
