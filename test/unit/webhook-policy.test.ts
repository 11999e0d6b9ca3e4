import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { mayReceive, maySubscribe } from "../../src/modules/events/event-visibility";
import {
  afterAttempt,
  checkEndpointUrl,
  classifyStatus,
  deliveryBody,
  disableReason,
  endpointVerdicts,
  gatheringMs,
  isForbiddenAddress,
  MAX_ATTEMPTS,
  newSecret,
  RETRY_DELAYS_MS,
  shownSecret,
  signature,
  signingSecrets,
} from "../../src/modules/events/webhook-policy";
import { Role } from "../../src/shared/auth/role";
import { codeOf } from "../helpers/assertions";

const T0 = new Date("2040-01-01T00:00:00Z");
const failed = { status: 500, durationMs: 3, error: "HTTP" as const };
const ok = { status: 204, durationMs: 3, error: null };

describe("webhook rules (pure)", () => {
  it("retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, then fails: eight attempts", () => {
    assert.equal(MAX_ATTEMPTS, 8);
    const minutes = [5 / 60, 5, 30, 120, 300, 600, 600];
    let at = T0;
    for (let n = 1; n < MAX_ATTEMPTS; n++) {
      const next = afterAttempt(failed, n, at);
      assert.equal(next.status, "PENDING");
      assert.equal(next.nextAttemptAt!.getTime() - at.getTime(), minutes[n - 1] * 60_000);
      at = next.nextAttemptAt!;
    }
    assert.deepEqual(afterAttempt(failed, MAX_ATTEMPTS, at), { status: "FAILED", nextAttemptAt: null });
    assert.deepEqual(afterAttempt(ok, 3, at), { status: "SUCCEEDED", nextAttemptAt: null });
    assert.equal(RETRY_DELAYS_MS.length, 7);
  });

  it("only a 2xx succeeds; a 3xx is a redirect, never followed", () => {
    assert.deepEqual([200, 204, 299, 301, 302, 308, 400, 410, 500].map(classifyStatus), [
      null,
      null,
      null,
      "REDIRECT",
      "REDIRECT",
      "REDIRECT",
      "HTTP",
      "HTTP",
      "HTTP",
    ]);
  });

  it("410 disables at once; failures disable after five days of nothing else", () => {
    assert.match(disableReason({ status: 410, durationMs: 1, error: "HTTP" }, null, T0)!, /410/);
    const day = 86_400_000;
    assert.equal(disableReason(failed, new Date(T0.getTime() - 5 * day + 1), T0), null);
    assert.match(disableReason(failed, new Date(T0.getTime() - 5 * day), T0)!, /five consecutive days/);
    assert.equal(disableReason(ok, new Date(T0.getTime() - 9 * day), T0), null, "a success is no reason");
    assert.equal(disableReason(failed, null, T0), null, "the first failure starts the count");
  });

  it("attempts made together: any success ends an endpoint's streak, any reason disables it", () => {
    const day = 86_400_000;
    const long = new Date(T0.getTime() - 6 * day);
    const gone = { status: 410, durationMs: 1, error: "HTTP" as const };
    const verdicts = endpointVerdicts(
      [
        { endpointId: "a", failingSince: long, outcome: failed },
        { endpointId: "a", failingSince: long, outcome: ok },
        { endpointId: "b", failingSince: null, outcome: failed },
        { endpointId: "b", failingSince: null, outcome: failed },
        { endpointId: "c", failingSince: long, outcome: failed },
        { endpointId: "d", failingSince: null, outcome: ok },
        { endpointId: "d", failingSince: null, outcome: gone },
      ],
      T0,
    );
    const of = (id: string) => verdicts.find((v) => v.endpointId === id)!;
    assert.equal(verdicts.length, 4, "one verdict per endpoint");
    assert.equal(of("a").succeeded, true);
    assert.equal(of("a").disable, null, "an endpoint that took one of them has not failed for five days");
    assert.deepEqual({ ...of("b") }, { endpointId: "b", succeeded: false, disable: null });
    assert.match(of("c").disable!, /five consecutive days/);
    assert.equal(of("d").succeeded, true);
    assert.match(of("d").disable!, /410/, "a 410 disables whatever else answered");
  });

  it("refuses loopback, private, link-local, metadata and other special addresses, IPv4 inside IPv6 included", () => {
    for (const address of [
      "127.0.0.1",
      "127.8.9.10",
      "10.0.0.1",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "::1",
      "::",
      "fe80::1",
      "fc00::1",
      "fd12:3456::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:169.254.169.254",
      "64:ff9b::a9fe:a9fe",
      "::ffff:0:127.0.0.1",
      "::ffff:0:a9fe:a9fe",
      "2002:7f00:1::1",
      "2002:a9fe:a9fe::",
      "2002:c0a8:101::5",
      "not an address",
    ]) {
      assert.equal(isForbiddenAddress(address), true, address);
    }
    for (const address of ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "::ffff:0:8.8.8.8", "2002:808:808::1"])
      assert.equal(isForbiddenAddress(address), false, address);
  });

  it("takes http and https URLs of at most 2,048 characters (https only in production), without credentials", () => {
    assert.equal(checkEndpointUrl("https://hooks.example.com/a?b=c", { httpsOnly: true }).hostname, "hooks.example.com");
    assert.equal(checkEndpointUrl("http://hooks.example.com/", { httpsOnly: false }).protocol, "http:");
    for (const [url, httpsOnly] of [
      ["http://hooks.example.com/", true],
      ["ftp://hooks.example.com/", false],
      ["javascript:alert(1)", false],
      ["not a url", false],
      ["https://user:pass@hooks.example.com/", false],
      [`https://hooks.example.com/${"x".repeat(2030)}`, false],
    ] as const) {
      assert.equal(
        codeOf(() => checkEndpointUrl(url, { httpsOnly })),
        "BAD_USER_INPUT",
        url.slice(0, 40),
      );
    }
  });

  it("signs as Standard Webhooks 1.0 does: the standardwebhooks package verifies it, with either secret during a rotation", () => {
    const [current, previous] = [newSecret(), newSecret()];
    assert.equal(Buffer.from(current, "base64").length, 32);
    const body = deliveryBody({ id: "msg_1", wireType: "data.purged", occurredAt: T0, tenantId: "t", data: { recordsPurged: 2 } });
    assert.deepEqual(JSON.parse(body), { type: "data.purged", timestamp: T0.toISOString(), data: { eventId: "msg_1", tenantId: "t", recordsPurged: 2 } });
    const timestamp = Math.floor(Date.now() / 1000);
    const endpoint = { secret: current, previousSecret: previous, previousSecretUntil: new Date(T0.getTime() + 1000) };
    const headers = {
      "webhook-id": "msg_1",
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signature(signingSecrets(endpoint, T0), "msg_1", timestamp, body),
    };
    for (const secret of [current, previous]) new Webhook(shownSecret(secret)).verify(body, headers);
    assert.throws(() => new Webhook(shownSecret(newSecret())).verify(body, headers), "another secret fails");
    assert.deepEqual(signingSecrets(endpoint, new Date(T0.getTime() + 1000)), [current], "the overlap ends");
  });

  it("gathers longer from 50 deliveries a second, counted since the last dispatch", () => {
    assert.equal(gatheringMs(0, 1000, 50, 300), 50);
    assert.equal(gatheringMs(49, 1000, 50, 300), 50);
    assert.equal(gatheringMs(50, 1000, 50, 300), 300);
    // 15 in 300 ms is 50 a second; 15 in the second after a quiet spell is not.
    assert.equal(gatheringMs(15, 300, 50, 300), 300);
    assert.equal(gatheringMs(15, 1000, 50, 300), 50);
    // A first dispatch counts since the process started.
    assert.equal(gatheringMs(1, 60_000, 50, 300), 50);
  });

  it("tells each role what the role table says", () => {
    const tenant = "11111111-1111-4111-8111-111111111111";
    const subject = "22222222-2222-4222-8222-222222222222";
    const p = (role: Role, dataSubjectId: string | null = null) => ({
      subject: "s",
      role,
      tenantId: role === Role.OPERATOR || role === Role.PARTNER ? null : tenant,
      dataSubjectId,
    });
    const events = {
      request: { tenantId: tenant, type: "SUBJECT_REQUEST_OPENED", data: { dataSubjectId: subject } },
      othersRequest: { tenantId: tenant, type: "SUBJECT_REQUEST_OPENED", data: { dataSubjectId: "33333333-3333-4333-8333-333333333333" } },
      purge: { tenantId: tenant, type: "DATA_PURGED", data: {} },
      otherTenant: { tenantId: "44444444-4444-4444-8444-444444444444", type: "DATA_PURGED", data: {} },
      operator: { tenantId: null, type: "BREACH_NOTIFICATION_OVERDUE", data: {} },
    };
    const seen = (principal: ReturnType<typeof p>) =>
      Object.entries(events)
        .filter(([, e]) => mayReceive(principal, e))
        .map(([name]) => name);
    assert.deepEqual(seen(p(Role.TENANT_ADMIN)), ["request", "othersRequest", "purge"]);
    assert.deepEqual(seen(p(Role.AUDITOR)), ["request", "othersRequest", "purge"]);
    assert.deepEqual(seen(p(Role.INTEGRATION)), ["purge"]);
    assert.deepEqual(seen(p(Role.DATA_SUBJECT, subject)), ["request"]);
    assert.deepEqual(seen(p(Role.OPERATOR)), ["operator"]);
    assert.deepEqual(seen(p(Role.PARTNER)), []);
    assert.equal(maySubscribe(p(Role.PARTNER)), false);
  });
});
