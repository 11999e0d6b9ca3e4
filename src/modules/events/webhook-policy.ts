import { createHmac, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { BadUserInputError } from "../../shared/errors";

/**
 * The rules of webhook delivery (DOMAIN rules 35-38) as pure functions: retry times, which
 * answers succeed, which addresses may be reached, the Standard Webhooks signature and secrets.
 */

/** Delays after each failed attempt (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h): eight attempts in all. */
export const RETRY_DELAYS_MS: readonly number[] = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
/** An endpoint whose attempts all failed this long is disabled. */
export const FAILING_DISABLE_MS = 5 * 24 * 3_600_000;
/** After a rotation the previous secret signs beside the new one this long. */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;
export const MAX_ENDPOINTS_PER_OWNER = 20;
export const MAX_URL_LENGTH = 2048;
export const ATTEMPT_TIMEOUT_MS = 10_000;
/** At most this much of an answer is read (and none of it kept). */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** Deliveries a second from which a dispatcher gathers longer before its next dispatch. */
export const BUSY_DELIVERIES_PER_SECOND = 50;

/**
 * How long a dispatcher gathers wakes before its next dispatch, given how many deliveries the
 * last one handed and how long it was since the one before: `quietMs` (a delivery's added
 * latency) unless the stream is busy, then `busyMs` (fewer, fuller batches).
 */
export function gatheringMs(handed: number, sinceLastMs: number, quietMs: number, busyMs: number): number {
  return handed * 1000 >= BUSY_DELIVERIES_PER_SECOND * Math.max(sinceLastMs, 1) ? busyMs : quietMs;
}

export type AttemptError = "TIMEOUT" | "CONNECTION" | "REDIRECT" | "REFUSED_ADDRESS" | "HTTP";

export interface AttemptOutcome {
  /** HTTP status; null when no answer came. */
  status: number | null;
  durationMs: number;
  /** Null on success. */
  error: AttemptError | null;
}

export type DeliveryStatus = "PENDING" | "SUCCEEDED" | "FAILED";

/** Where a delivery stands after its `attemptNumber`-th attempt of the current schedule (1-based) at `at`. */
export function afterAttempt(outcome: AttemptOutcome, attemptNumber: number, at: Date): { status: DeliveryStatus; nextAttemptAt: Date | null } {
  if (outcome.error === null) return { status: "SUCCEEDED", nextAttemptAt: null };
  if (attemptNumber >= MAX_ATTEMPTS) return { status: "FAILED", nextAttemptAt: null };
  return { status: "PENDING", nextAttemptAt: new Date(at.getTime() + RETRY_DELAYS_MS[attemptNumber - 1]) };
}

/** A 2xx succeeds; a 3xx is a redirect, never followed; anything else is an HTTP failure. */
export function classifyStatus(status: number): AttemptError | null {
  if (status >= 200 && status < 300) return null;
  if (status >= 300 && status < 400) return "REDIRECT";
  return "HTTP";
}

/** Why an endpoint is disabled after this outcome, or null: 410 at once, five days of nothing but failures. */
export function disableReason(outcome: AttemptOutcome, failingSince: Date | null, at: Date): string | null {
  if (outcome.status === 410) return "The receiver answered HTTP 410 Gone.";
  if (outcome.error !== null && failingSince && at.getTime() - failingSince.getTime() >= FAILING_DISABLE_MS) {
    return "Every delivery failed for five consecutive days.";
  }
  return null;
}

/** What a batch of attempts made at `at` does to each endpoint it reached. */
export interface EndpointVerdict {
  endpointId: string;
  /** Some attempt succeeded: the failing streak ends (none failing: it starts at `at` unless running). */
  succeeded: boolean;
  /** Why the endpoint is disabled now, or null. */
  disable: string | null;
}

/**
 * Attempts made side by side have no order: an endpoint that took any of them has not failed
 * them all, so its streak ends and five days of failing are no reason; one that failed them all
 * keeps (or starts) its streak. A 410 disables whatever else answered.
 */
export function endpointVerdicts(
  attempts: ReadonlyArray<{ endpointId: string; failingSince: Date | null; outcome: AttemptOutcome }>,
  at: Date,
): EndpointVerdict[] {
  const verdicts = new Map<string, EndpointVerdict & { gone: string | null; streak: string | null }>();
  for (const { endpointId, failingSince, outcome } of attempts) {
    const verdict = verdicts.get(endpointId) ?? { endpointId, succeeded: false, disable: null, gone: null, streak: null };
    verdict.succeeded ||= outcome.error === null;
    const reason = disableReason(outcome, failingSince, at);
    if (outcome.status === 410) verdict.gone ??= reason;
    else verdict.streak ??= reason;
    verdicts.set(endpointId, verdict);
  }
  return [...verdicts.values()].map(({ endpointId, succeeded, gone, streak }) => ({ endpointId, succeeded, disable: gone ?? (succeeded ? null : streak) }));
}

/** The endpoint URL as given, checked: http(s) only (https only in production), no credentials, at most 2,048 characters. */
export function checkEndpointUrl(raw: string, options: { httpsOnly: boolean }): URL {
  const refuse = (why: string) => new BadUserInputError("url", `The endpoint URL ${why}.`);
  if (raw.length > MAX_URL_LENGTH) throw refuse(`is longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse("is not a URL");
  }
  if (url.protocol !== "https:" && (options.httpsOnly || url.protocol !== "http:"))
    throw refuse(options.httpsOnly ? "must use https" : "must use http or https");
  if (url.username || url.password) throw refuse("must not carry credentials");
  if (!url.hostname) throw refuse("has no host");
  return url;
}

/** The host of `url` as an IP literal (brackets of IPv6 removed), or null for a name. */
export function ipLiteral(url: URL): string | null {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return isIP(host) ? host : null;
}

/**
 * Whether an address is one a receiver may not have: loopback, private, link-local (cloud
 * metadata at 169.254.169.254 among them), unspecified, shared (carrier NAT), multicast,
 * reserved; IPv4 inside IPv6 (mapped, compatible, translated, NAT64, 6to4) is judged as the
 * IPv4 it carries.
 */
export function isForbiddenAddress(address: string): boolean {
  const kind = isIP(address);
  if (kind === 4) return forbiddenV4(address.split(".").map(Number));
  if (kind !== 6) return true;
  const groups = expandV6(address.toLowerCase());
  if (!groups) return true;
  // The IPv4 that two groups carry.
  const v4 = (high: number, low: number) => [high >> 8, high & 0xff, low >> 8, low & 0xff];
  const mapped = groups.slice(0, 5).every((g) => g === 0) && (groups[5] === 0xffff || groups[5] === 0);
  if (mapped && (groups[5] === 0xffff || groups[6] !== 0 || groups[7] > 1)) {
    return forbiddenV4(v4(groups[6], groups[7]));
  }
  if (groups.every((g, i) => g === (i === 7 ? 1 : 0))) return true; // ::1
  if (groups.every((g) => g === 0)) return true; // ::
  const first = groups[0];
  // IPv4-translated (::ffff:0:a.b.c.d, SIIT) and 6to4 (2002:aabb:ccdd::/48) carry an IPv4 that a
  // translator or relay may reach: judged as that IPv4.
  if (groups.slice(0, 4).every((g) => g === 0) && groups[4] === 0xffff && groups[5] === 0 && forbiddenV4(v4(groups[6], groups[7]))) return true;
  if (first === 0x2002 && forbiddenV4(v4(groups[1], groups[2]))) return true;
  return (
    (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xffc0) === 0xfec0 || // site-local (deprecated)
    (first & 0xff00) === 0xff00 || // multicast
    (first === 0x64 && groups[1] === 0xff9b) || // NAT64 (reaches IPv4 inside)
    (first === 0x2001 && groups[1] === 0x0db8) // documentation
  );
}

function forbiddenV4([a, b]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224
  );
}

/** An IPv6 address's eight groups, or null when it is not one. */
function expandV6(address: string): number[] | null {
  let text = address.replace(/%.*$/, "");
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split(".").map(Number);
    text = text.slice(0, -v4[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => (part ? part.split(":").map((g) => parseInt(g, 16)) : []);
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
  const groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/** A new signing secret: 32 random bytes, stored as base64 and shown once as `whsec_<base64>`. */
export function newSecret(): string {
  return randomBytes(32).toString("base64");
}

export const shownSecret = (secret: string) => `whsec_${secret}`;

/**
 * The secrets that sign at `at`: the current one, and the previous one while its overlap lasts.
 * A rotation replaces the previous secret, so a second rotation within 24 hours drops the oldest.
 */
export function signingSecrets(endpoint: { secret: string; previousSecret: string | null; previousSecretUntil: Date | null }, at: Date): string[] {
  const overlap = endpoint.previousSecret && endpoint.previousSecretUntil && at < endpoint.previousSecretUntil;
  return overlap ? [endpoint.secret, endpoint.previousSecret!] : [endpoint.secret];
}

/** Standard Webhooks 1.0: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per secret, space-separated. */
export function signature(secrets: readonly string[], id: string, timestampSeconds: number, body: string): string {
  return secrets
    .map((secret) => `v1,${createHmac("sha256", Buffer.from(secret, "base64")).update(`${id}.${timestampSeconds}.${body}`).digest("base64")}`)
    .join(" ");
}

/** The body every receiver gets: the dotted type, when it happened, and the thin data with the event's and tenant's ids. */
export function deliveryBody(event: { id: string; wireType: string; occurredAt: Date; tenantId: string | null; data: Record<string, unknown> }): string {
  return JSON.stringify({
    type: event.wireType,
    timestamp: event.occurredAt.toISOString(),
    data: { eventId: event.id, tenantId: event.tenantId, ...event.data },
  });
}
