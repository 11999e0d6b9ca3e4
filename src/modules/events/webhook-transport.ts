import { lookup } from "node:dns/promises";
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { BadUserInputError } from "../../shared/errors";
import { ATTEMPT_TIMEOUT_MS, classifyStatus, ipLiteral, isForbiddenAddress, MAX_ANSWER_BYTES, type AttemptError, type AttemptOutcome } from "./webhook-policy";

/** Names to addresses: the system's resolver, or a test's (to play DNS rebinding). */
export type Resolve = (host: string) => Promise<string[]>;

export const systemResolve: Resolve = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface AddressRules {
  resolve: Resolve;
  /** WEBHOOK_ALLOW_PRIVATE_NETWORKS: loopback and private receivers allowed (development and tests; never production). */
  allowPrivate: boolean;
  /** How long a creation waits for the host's addresses (default RESOLVE_TIMEOUT_MS). */
  resolveTimeoutMs?: number;
}

/**
 * How long an endpoint's creation waits for its host to resolve. The creation holds its
 * transaction (and a pooled connection) meanwhile: a name whose DNS never answers must not hold
 * them for as long as the system's resolver keeps trying.
 */
export const RESOLVE_TIMEOUT_MS = 5_000;

/** At creation: every address the host resolves to must be one a receiver may have. */
export async function checkReachable(url: URL, rules: AddressRules): Promise<void> {
  if (rules.allowPrivate) return;
  const literal = ipLiteral(url);
  let addresses: string[];
  const limitMs = rules.resolveTimeoutMs ?? RESOLVE_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new ResolveTimeout()), limitMs)));
  try {
    addresses = literal ? [literal] : await Promise.race([rules.resolve(url.hostname), late]);
  } catch (error) {
    if (error instanceof ResolveTimeout)
      throw new BadUserInputError("url", `The endpoint URL's host did not resolve within ${limitMs / 1000} seconds: check its DNS, then try again.`);
    throw new BadUserInputError("url", "The endpoint URL's host does not resolve.");
  } finally {
    clearTimeout(timer);
  }
  if (!addresses.length) throw new BadUserInputError("url", "The endpoint URL's host does not resolve.");
  if (addresses.some(isForbiddenAddress)) {
    throw new BadUserInputError(
      "url",
      "The endpoint URL reaches a loopback, private, link-local or metadata address: receivers must be on the public internet.",
    );
  }
}

class ResolveTimeout extends Error {}

class AttemptFailure extends Error {
  constructor(readonly kind: AttemptError) {
    super(kind);
  }
}

/**
 * The lookup a delivery connects through: the injected resolver's first allowed address, so the
 * address checked is the address connected (a name that resolves elsewhere since creation, DNS
 * rebinding, is refused here).
 */
function checkedLookup(rules: AddressRules): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    rules.resolve(hostname).then(
      (addresses) => {
        const usable = rules.allowPrivate ? addresses : addresses.filter((a) => !isForbiddenAddress(a));
        if (!usable.length || usable.length < addresses.length) return callback(new AttemptFailure(addresses.length ? "REFUSED_ADDRESS" : "CONNECTION"));
        if (options.all)
          callback(
            null,
            usable.map((address) => ({ address, family: isIP(address) })),
          );
        else callback(null, usable[0], isIP(usable[0]));
      },
      () => callback(new AttemptFailure("CONNECTION")),
    );
  }) as LookupFunction;
}

/** Kept-alive connections to receivers, opened through the checked lookup (one pair per worker). */
export interface DeliveryAgents {
  http: HttpAgent;
  https: HttpsAgent;
}

/** Connections are reused while a receiver keeps them open; each was checked when it was opened. */
export function deliveryAgents(rules: AddressRules): DeliveryAgents {
  const options = { keepAlive: true, maxSockets: 32, maxFreeSockets: 32, lookup: checkedLookup(rules) };
  return { http: new HttpAgent(options), https: new HttpsAgent(options) };
}

/**
 * One POST of a signed body: 2xx succeeds; redirects are not followed; at most 64 KB of the
 * answer is read (and dropped, the connection with it); ten seconds in all. Never throws: the
 * outcome says what happened.
 */
export async function attemptDelivery(
  target: { url: string; headers: Record<string, string>; body: string },
  rules: AddressRules,
  agents: DeliveryAgents,
): Promise<AttemptOutcome> {
  const first = await sendOnce(target, rules, agents);
  // A kept-alive connection the receiver closed as it was reused: sent again on a new one, once
  // (nothing reached the receiver: the connection was reset before any answer).
  if (!first.staleConnection) return first.outcome;
  const again = await sendOnce(target, rules, agents);
  return { ...again.outcome, durationMs: first.outcome.durationMs + again.outcome.durationMs };
}

function sendOnce(
  target: { url: string; headers: Record<string, string>; body: string },
  rules: AddressRules,
  agents: DeliveryAgents,
): Promise<{ outcome: AttemptOutcome; staleConnection?: boolean }> {
  const started = process.hrtime.bigint();
  const elapsed = () => Number((process.hrtime.bigint() - started) / 1_000_000n);
  return new Promise((resolve) => {
    let settled = false;
    const sent: { req?: ClientRequest } = {};
    /** `drop`: the connection is not reused (cut short, or a refused address). */
    const finish = (status: number | null, error: AttemptError | null, drop = true, staleConnection = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (drop) sent.req?.destroy();
      resolve({ outcome: { status, durationMs: elapsed(), error }, staleConnection });
    };
    const timer = setTimeout(() => finish(null, "TIMEOUT"), ATTEMPT_TIMEOUT_MS);
    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      return finish(null, "CONNECTION");
    }
    const literal = ipLiteral(url);
    if (literal && !rules.allowPrivate && isForbiddenAddress(literal)) return finish(null, "REFUSED_ADDRESS");
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = (sent.req = send(url, {
      method: "POST",
      headers: {
        ...target.headers,
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(target.body)),
        "user-agent": "Custodian-Webhooks/1",
      },
      agent: url.protocol === "https:" ? agents.https : agents.http,
    }));
    req.on("socket", (socket) => {
      // A new connection: the address actually connected, whatever resolved it (a reused one was checked when it connected).
      if (!socket.connecting) return;
      socket.once("connect", () => {
        if (!rules.allowPrivate && socket.remoteAddress && isForbiddenAddress(socket.remoteAddress)) finish(null, "REFUSED_ADDRESS");
      });
    });
    req.on("response", (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on("data", (chunk: Buffer) => {
        read += chunk.length;
        if (read >= MAX_ANSWER_BYTES) finish(status, classifyStatus(status));
      });
      res.on("end", () => finish(status, classifyStatus(status), false));
      res.on("error", () => finish(status, classifyStatus(status)));
    });
    let answered = false;
    req.on("response", () => (answered = true));
    req.on("error", (error) => {
      const stale = req.reusedSocket && !answered && (error as NodeJS.ErrnoException).code === "ECONNRESET";
      finish(null, error instanceof AttemptFailure ? error.kind : "CONNECTION", true, stale);
    });
    req.end(target.body);
  });
}
