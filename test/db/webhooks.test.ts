import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { EventType } from "../../src/modules/events/event-type";
import { EventFeed } from "../../src/modules/events/event-feed";
import { emitOn } from "../../src/modules/events/outbox";
import { RETRY_DELAYS_MS } from "../../src/modules/events/webhook-policy";
import type { AddressRules } from "../../src/modules/events/webhook-transport";
import { TAMPERED_SECRET, WebhookWorker } from "../../src/modules/events/webhook-worker";
import { claimDue, failLeasedToDisabled } from "../../src/modules/events/webhooks.store";
import { createLogger } from "../../src/shared/logging";
import { registry } from "../../src/shared/metrics";
import { Role } from "../../src/shared/auth/role";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant, registerSubject } from "../helpers/factories";
import { isolatedDatabase } from "../helpers/isolated-db";
import { otherRoles, principals, roles, startTestApp, TEST_MASTER_KEY, type TestApp } from "../helpers/app";
import { openSecret, sealSecretsIn, sealWebhookSecrets } from "../../src/modules/events/webhook-secrets";
import { KeyRing } from "../../src/modules/keys/key-ring";
import { LocalKeyProvider } from "../../src/modules/keys/envelope";
import { createHash } from "node:crypto";
import { eventually, startReceiver } from "../helpers/receiver";

const CREATE = `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id url enabled eventTypes tenant { id } } } }`;
const ROTATE = `mutation($id: ID!) { rotateWebhookSecret(endpointId: $id) { secret endpoint { id } } }`;
const DISABLE = `mutation($id: ID!) { disableWebhookEndpoint(endpointId: $id) { id enabled disabledReason } }`;
const ENABLE = `mutation($id: ID!) { enableWebhookEndpoint(endpointId: $id) { id enabled disabledReason } }`;
const REMOVE = `mutation($id: ID!) { deleteWebhookEndpoint(endpointId: $id) }`;
const REPLAY = `mutation($id: ID!) { replayWebhookDelivery(deliveryId: $id) { id status nextAttemptAt } }`;
const OPEN = `mutation($input: OpenSubjectRequestInput!) { openSubjectRequest(input: $input) { id } }`;
const ENDPOINTS = `query($tenantId: ID) { webhookEndpoints(tenantId: $tenantId) { id enabled disabledReason deliveries {
  totalCount nodes { id status nextAttemptAt attempts { attemptedAt responseStatus durationMs errorClass } event { id type tenantId data } } } } }`;
const NODE = `query($id: ID!) { node(id: $id) { id } }`;

interface Delivery {
  id: string;
  status: string;
  nextAttemptAt: string | null;
  attempts: Array<{ attemptedAt: string; responseStatus: number | null; durationMs: number; errorClass: string | null }>;
  event: { id: string; type: string; tenantId: string | null; data: Record<string, unknown> };
}
interface Endpoint {
  id: string;
  enabled: boolean;
  disabledReason: string | null;
  deliveries: { totalCount: number; nodes: Delivery[] };
}

/** Webhook delivery (DOMAIN rules 35-38): signed, retried on the service clock, refused where it must not go, seen only by its owner. */
describe("webhooks", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  let drop: () => Promise<void>;
  let feed: EventFeed;
  let worker: WebhookWorker;
  // The injected resolver: names a test gives addresses to, nothing else resolves.
  const names = new Map<string, string[]>();
  const rules: AddressRules = {
    resolve: async (host) => {
      // A name whose DNS never answers.
      if (host === "silent.test") return new Promise<string[]>(() => undefined);
      const found = names.get(host);
      if (!found) throw new Error("ENOTFOUND");
      return found;
    },
    allowPrivate: true,
    resolveTimeoutMs: 200,
  };
  const log = createLogger("silent");

  before(async () => {
    const database = await isolatedDatabase();
    drop = database.drop;
    app = await startTestApp({ databaseUrl: database.url, webhooks: { rules, httpsOnly: false } });
    as = roles(app);
    feed = new EventFeed(app.topology, log);
    await feed.start();
    worker = new WebhookWorker(app.topology, app.clock, feed, log, { rules, pollMs: 100, keys: app.keys });
    await worker.start();
  });
  beforeEach(async () => {
    app.clock.reset();
    rules.allowPrivate = true;
    // An earlier test's retries stay its own: none is left to reach a later test's receiver.
    for (const db of app.topology.all) await db.owner.query(`UPDATE webhook_delivery SET status = 'FAILED', next_attempt_at = NULL WHERE status = 'PENDING'`);
  });
  after(async () => {
    await worker.stop();
    await feed.stop();
    await app.close();
    await drop();
  });

  const createEndpoint = async (tenantId: string, url: string, eventTypes: string[] = [EventType.SUBJECT_REQUEST_OPENED]) => {
    const created = assertOk(await as.asTenantAdmin(tenantId).gql(CREATE, { input: { url, eventTypes } })).createWebhookEndpoint;
    return { id: created.endpoint.id as string, secret: created.secret as string };
  };
  const openRequest = async (tenantId: string) => {
    const subject = await registerSubject(app, tenantId);
    return assertOk(await as.asTenantAdmin(tenantId).gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS" } })).openSubjectRequest.id as string;
  };
  const endpointOf = async (tenantId: string, id: string): Promise<Endpoint> =>
    (assertOk(await as.asTenantAdmin(tenantId).gql(ENDPOINTS)).webhookEndpoints as Endpoint[]).find((e) => e.id === id)!;
  const deliveryOf = async (tenantId: string, endpointId: string) => (await endpointOf(tenantId, endpointId)).deliveries.nodes[0];

  it("signs every delivery so the standardwebhooks package verifies it; the timestamp is the attempt's wall-clock second", async () => {
    const receiver = await startReceiver();
    try {
      const tenant = await createTenant(app);
      const { id, secret } = await createEndpoint(tenant.id, receiver.url);
      assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/, "32 random bytes, base64, after whsec_");
      // A test clock far from now: receivers' five-minute tolerance still holds.
      app.clock.set(new Date("2040-01-01T00:00:00Z"));
      const requestId = await openRequest(tenant.id);
      const [delivery] = await receiver.waitFor(1);
      const payload = new Webhook(secret).verify(delivery.body, delivery.headers as Record<string, string>) as Record<string, any>;
      assert.equal(payload.type, "subject_request.opened");
      assert.equal(payload.timestamp, "2040-01-01T00:00:00.000Z", "the event's occurredAt");
      assert.equal(payload.data.eventId, delivery.headers["webhook-id"]);
      assert.equal(payload.data.tenantId, tenant.id);
      assert.equal(payload.data.requestId, requestId);
      assert.ok(Math.abs(Number(delivery.headers["webhook-timestamp"]) - Date.now() / 1000) < 60);
      // The probe fails where it must: another secret, or a changed body.
      assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString("base64")}`).verify(delivery.body, delivery.headers as Record<string, string>));
      assert.throws(() => new Webhook(secret).verify(delivery.body.replace(tenant.id, "x"), delivery.headers as Record<string, string>));

      const logged = await eventually(async () => {
        const d = await deliveryOf(tenant.id, id);
        return d?.status === "SUCCEEDED" ? d : undefined;
      });
      assert.equal(logged.event.id, delivery.headers["webhook-id"]);
      assert.equal(logged.event.type, "SUBJECT_REQUEST_OPENED");
      assert.deepEqual(
        logged.attempts.map((a) => [a.responseStatus, a.errorClass]),
        [[200, null]],
      );
      assert.equal(logged.nextAttemptAt, null);
      // The metrics see it, by outcome and database only.
      const metrics = await registry.metrics();
      assert.match(metrics, /custodian_webhook_attempts_total\{outcome="ok"\} [1-9]/);
      assert.match(metrics, /custodian_webhook_queue_depth\{database="EU",state="due"\} 0/);
      assert.match(metrics, /custodian_webhook_endpoints_disabled\{database="control"\} 0/);
      assert.match(metrics, /custodian_webhook_delivery_lag_seconds_count [1-9]/);
    } finally {
      await receiver.close();
    }
  });

  it("a rotated secret signs beside the new one for 24 hours; a second rotation drops the oldest", async () => {
    const receiver = await startReceiver();
    try {
      const tenant = await createTenant(app);
      const start = new Date("2040-02-01T00:00:00Z");
      app.clock.set(start);
      const { id, secret: first } = await createEndpoint(tenant.id, receiver.url);
      const second = assertOk(await as.asTenantAdmin(tenant.id).gql(ROTATE, { id })).rotateWebhookSecret.secret as string;
      await openRequest(tenant.id);
      const [a] = await receiver.waitFor(1);
      const headers = a.headers as Record<string, string>;
      assert.equal(headers["webhook-signature"].split(" ").length, 2);
      for (const secret of [first, second]) new Webhook(secret).verify(a.body, headers);

      const third = assertOk(await as.asTenantAdmin(tenant.id).gql(ROTATE, { id })).rotateWebhookSecret.secret as string;
      await openRequest(tenant.id);
      const b = (await receiver.waitFor(2))[1];
      for (const secret of [second, third]) new Webhook(secret).verify(b.body, b.headers as Record<string, string>);
      assert.throws(() => new Webhook(first).verify(b.body, b.headers as Record<string, string>), "the oldest secret was dropped");

      app.clock.set(new Date(start.getTime() + 24 * 3_600_000 + 1000));
      await openRequest(tenant.id);
      const c = (await receiver.waitFor(3))[2];
      assert.equal((c.headers["webhook-signature"] as string).split(" ").length, 1, "after 24 hours only the new secret signs");
      new Webhook(third).verify(c.body, c.headers as Record<string, string>);
    } finally {
      await receiver.close();
    }
  });

  describe("signing secrets at rest", () => {
    const sealedRow = async (id: string) =>
      (await app.region().owner.query(`SELECT row_to_json(w)::text AS row, secret_master_version FROM webhook_endpoint w WHERE id = $1`, [id]))[0] as {
        row: string;
        secret_master_version: number | null;
      };
    // Whether the row shows the secret: its base64, or its bytes as a dump prints bytea (hex).
    const shows = (row: { row: string }, secret: string) => {
      const bytes = Buffer.from(secret.slice("whsec_".length), "base64");
      return row.row.includes(bytes.toString("base64")) || row.row.includes(bytes.toString("hex"));
    };

    it("are stored only sealed under the master key; one stored in plaintext before is sealed at start and still signs", async () => {
      const receiver = await startReceiver();
      try {
        const tenant = await createTenant(app);
        const { id, secret } = await createEndpoint(tenant.id, receiver.url);
        assert.equal(shows(await sealedRow(id), secret), false, "neither its base64 nor its bytes");
        assert.equal((await sealedRow(id)).secret_master_version, 1);
        // The row as it was before secrets were sealed: the probe finds the secret there.
        await app
          .region()
          .owner.query(`UPDATE webhook_endpoint SET secret = $2, secret_sealed = NULL, secret_master_version = NULL WHERE id = $1`, [
            id,
            secret.slice("whsec_".length),
          ]);
        assert.equal(shows(await sealedRow(id), secret), true);
        const sealed = await sealWebhookSecrets(app.topology.all, app.keys, log);
        assert.equal(sealed[app.region().name], 1, "that one endpoint");
        assert.equal(shows(await sealedRow(id), secret), false);
        assert.deepEqual(
          Object.values(await sealWebhookSecrets(app.topology.all, app.keys, log)),
          app.topology.all.map(() => 0),
          "nothing left to seal",
        );
        await openRequest(tenant.id);
        const [delivery] = await receiver.waitFor(1);
        new Webhook(secret).verify(delivery.body, delivery.headers as Record<string, string>);
      } finally {
        await receiver.close();
      }
    });

    it("a sealed secret moved to another endpoint does not open: that endpoint is disabled, nothing is signed with the other's secret, and a rotation brings it back", async () => {
      const receiver = await startReceiver();
      try {
        const tenant = await createTenant(app);
        const a = await createEndpoint(tenant.id, receiver.url);
        const b = await createEndpoint(tenant.id, receiver.url);
        await app
          .region()
          .owner.query(`UPDATE webhook_endpoint SET secret_sealed = (SELECT secret_sealed FROM webhook_endpoint WHERE id = $1) WHERE id = $2`, [a.id, b.id]);
        await openRequest(tenant.id);
        const [delivery] = await receiver.waitFor(1);
        new Webhook(a.secret).verify(delivery.body, delivery.headers as Record<string, string>);
        await eventually(async () => ((await deliveryOf(tenant.id, a.id))?.status === "SUCCEEDED" ? true : undefined));
        const disabled = await eventually(async () => {
          const endpoint = await endpointOf(tenant.id, b.id);
          return endpoint.enabled ? undefined : endpoint;
        });
        assert.equal(disabled.disabledReason, TAMPERED_SECRET);
        assert.deepEqual(
          disabled.deliveries.nodes.map((d) => [d.status, d.attempts.length]),
          [["FAILED", 0]],
          "failed, never attempted",
        );
        assert.equal(receiver.received.length, 1, "nothing signed with another endpoint's secret");

        // A sweep under a new master key names it and goes on with the others.
        const sweep = createHash("sha256").update("webhooks: a master key for one sweep").digest();
        const swept = await sealSecretsIn(
          app.region().maintenance,
          new KeyRing(new LocalKeyProvider(sweep, { version: 3, previous: new Map([[1, TEST_MASTER_KEY]]) })),
        );
        assert.deepEqual(swept.unreadable, [b.id]);
        assert.ok(swept.sealed >= 1, "the readable ones sealed again");
        await sealSecretsIn(app.region().maintenance, new KeyRing(new LocalKeyProvider(TEST_MASTER_KEY, { previous: new Map([[3, sweep]]) })));

        // Its administrator rotates the secret and enables it: the new secret signs alone (the tampered one, now the previous, signs nothing).
        const fresh = assertOk(await as.asTenantAdmin(tenant.id).gql(ROTATE, { id: b.id })).rotateWebhookSecret.secret as string;
        assertOk(await as.asTenantAdmin(tenant.id).gql(ENABLE, { id: b.id }));
        await openRequest(tenant.id);
        const more = (await receiver.waitFor(3)).slice(1);
        const toB = more.filter((r) => {
          try {
            new Webhook(fresh).verify(r.body, r.headers as Record<string, string>);
            return true;
          } catch {
            return false;
          }
        });
        assert.equal(toB.length, 1);
        assert.equal((toB[0].headers["webhook-signature"] as string).split(" ").length, 1);
        // The tampered one is dropped from the row by the job that found it (reported once, not at every job of its day).
        const [row] = await app.region().owner.query(`SELECT previous_secret_sealed, previous_secret_until FROM webhook_endpoint WHERE id = $1`, [b.id]);
        assert.deepEqual(row, { previous_secret_sealed: null, previous_secret_until: null });
      } finally {
        await receiver.close();
      }
    });

    it("after a new master key they are sealed again under it (resumable, once), and open to the same secret", async () => {
      const tenant = await createTenant(app);
      const receiver = await startReceiver();
      const { id, secret } = await createEndpoint(tenant.id, receiver.url).finally(() => receiver.close());
      assertOk(await as.asTenantAdmin(tenant.id).gql(ROTATE, { id }));
      const next = createHash("sha256").update("webhooks: the next master key").digest();
      const rotated = new KeyRing(new LocalKeyProvider(next, { version: 2, previous: new Map([[1, TEST_MASTER_KEY]]) }));
      const counts = await Promise.all(app.topology.all.map((db) => sealSecretsIn(db.maintenance, rotated, 2)));
      assert.ok(counts.reduce((n, c) => n + c.sealed, 0) >= 1);
      assert.deepEqual(
        counts.flatMap((c) => c.unreadable),
        [],
      );
      const [row] = await app
        .region()
        .owner.query(
          `SELECT secret_sealed, secret_master_version, previous_secret_sealed, previous_secret_master_version, previous_secret FROM webhook_endpoint WHERE id = $1`,
          [id],
        );
      assert.equal(row.secret_master_version, 2);
      assert.equal(row.previous_secret_master_version, 2, "the rotated-out secret too");
      assert.equal(row.previous_secret, null);
      const previous = await openSecret(rotated, id, { plain: null, sealed: row.previous_secret_sealed, masterVersion: 2 });
      assert.equal(`whsec_${previous}`, secret, "the secret the endpoint was created with, now the previous one");
      await assert.rejects(openSecret(app.keys, id, { plain: null, sealed: row.previous_secret_sealed, masterVersion: 2 }), "the old ring knows no version 2");
      assert.deepEqual(
        (await Promise.all(app.topology.all.map((db) => sealSecretsIn(db.maintenance, rotated)))).map((c) => c.sealed),
        app.topology.all.map(() => 0),
        "once",
      );
      // Back under the suite's master key, for the tests after this one.
      const back = new KeyRing(new LocalKeyProvider(TEST_MASTER_KEY, { previous: new Map([[2, next]]) }));
      await Promise.all(app.topology.all.map((db) => sealSecretsIn(db.maintenance, back)));
    });
  });

  it("retries at 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h of service clock, then fails; a replay sends the same webhook-id again", async () => {
    let status = 500;
    const receiver = await startReceiver(() => ({ status }));
    try {
      const tenant = await createTenant(app);
      let now = new Date("2040-03-01T00:00:00Z");
      app.clock.set(now);
      const { id } = await createEndpoint(tenant.id, receiver.url);
      await openRequest(tenant.id);
      for (let attempt = 1; attempt <= RETRY_DELAYS_MS.length + 1; attempt++) {
        await receiver.waitFor(attempt);
        const d = await eventually(async () => {
          const found = await deliveryOf(tenant.id, id);
          return found?.attempts.length === attempt ? found : undefined;
        });
        assert.deepEqual(d.attempts.at(-1), {
          attemptedAt: now.toISOString(),
          responseStatus: 500,
          durationMs: d.attempts.at(-1)!.durationMs,
          errorClass: "HTTP",
        });
        if (attempt <= RETRY_DELAYS_MS.length) {
          assert.equal(d.status, "PENDING");
          assert.equal(d.nextAttemptAt, new Date(now.getTime() + RETRY_DELAYS_MS[attempt - 1]).toISOString());
          // Not before its time: a moment earlier, nothing is sent.
          app.clock.set(new Date(now.getTime() + RETRY_DELAYS_MS[attempt - 1] - 1000));
          await worker.dispatchAll();
          assert.equal(receiver.received.length, attempt);
          now = new Date(now.getTime() + RETRY_DELAYS_MS[attempt - 1]);
          app.clock.set(now);
          worker.wake();
        } else {
          assert.equal(d.status, "FAILED");
          assert.equal(d.nextAttemptAt, null);
        }
      }
      const ids = new Set(receiver.received.map((r) => r.headers["webhook-id"]));
      assert.equal(ids.size, 1, "every retry carries the event's id");

      status = 200;
      const failed = await deliveryOf(tenant.id, id);
      const replayed = assertOk(await as.asTenantAdmin(tenant.id).gql(REPLAY, { id: failed.id })).replayWebhookDelivery;
      assert.equal(replayed.id, failed.id);
      assert.equal(replayed.status, "PENDING");
      await receiver.waitFor(9);
      assert.equal(receiver.received[8].headers["webhook-id"], [...ids][0]);
      await eventually(async () => ((await deliveryOf(tenant.id, id)).status === "SUCCEEDED" ? true : undefined));
    } finally {
      await receiver.close();
    }
  });

  it("HTTP 410 disables the endpoint at once; a disabled endpoint gets no new deliveries until enabled", async () => {
    const receiver = await startReceiver(() => ({ status: 410 }));
    try {
      const tenant = await createTenant(app);
      const { id } = await createEndpoint(tenant.id, receiver.url);
      await openRequest(tenant.id);
      const gone = await eventually(async () => {
        const e = await endpointOf(tenant.id, id);
        return e.enabled ? undefined : e;
      });
      assert.match(gone.disabledReason!, /410/);
      assert.equal(gone.deliveries.nodes[0].status, "FAILED");
      await openRequest(tenant.id);
      assert.equal((await endpointOf(tenant.id, id)).deliveries.totalCount, 1, "no delivery for the later event");
      assertError(await as.asTenantAdmin(tenant.id).gql(REPLAY, { id: gone.deliveries.nodes[0].id }), "INVALID_STATE");
      const enabled = assertOk(await as.asTenantAdmin(tenant.id).gql(ENABLE, { id })).enableWebhookEndpoint;
      assert.deepEqual(enabled, { id, enabled: true, disabledReason: null });
      await openRequest(tenant.id);
      assert.equal((await endpointOf(tenant.id, id)).deliveries.totalCount, 2);
      assert.equal((await endpointOf(tenant.id, id)).deliveries.nodes[0].status, "FAILED", "FAILED stays FAILED");
    } finally {
      await receiver.close();
    }
  });

  it("a delivery written for an endpoint that was disabled before its event committed fails once leased, never attempted and never leased again", async () => {
    const receiver = await startReceiver();
    try {
      const tenant = await createTenant(app);
      const { id } = await createEndpoint(tenant.id, receiver.url);
      await worker.stop();
      await openRequest(tenant.id);
      // The disabling failed the PENDING deliveries it saw; this one's mutation committed after it.
      await app.region().owner.query(`UPDATE webhook_endpoint SET enabled = false, disabled_reason = 'disabled by its administrator' WHERE id = $1`, [id]);
      worker = new WebhookWorker(app.topology, app.clock, feed, log, { rules, pollMs: 100, keys: app.keys });
      await worker.start();
      const failed = await eventually(async () => {
        const delivery = await deliveryOf(tenant.id, id);
        return delivery.status === "PENDING" ? undefined : delivery;
      });
      assert.equal(failed.status, "FAILED");
      assert.equal(failed.nextAttemptAt, null);
      assert.deepEqual(failed.attempts, [], "no attempt was made");
      assert.equal(receiver.received.length, 0);
      // Settled, not left leased: no dispatch hands it out again (the lease would have run out in a
      // minute). Only its own endpoint's: an earlier test's retry may come due meanwhile.
      const claimed = (await claimDue(app.region().maintenance.manager, new Date(Date.now() + 3_600_000), 10, 1500)).deliveries;
      assert.deepEqual(
        claimed.filter((d) => d.endpointId === id),
        [],
      );
    } finally {
      await receiver.close();
    }
  });

  it("failing a leased delivery for its disabled endpoint leaves it PENDING if the endpoint was enabled again meanwhile", async () => {
    const tenant = await createTenant(app);
    const { id } = await createEndpoint(tenant.id, "http://receiver.invalid/hook");
    await worker.stop();
    try {
      await openRequest(tenant.id);
      const region = app.region().maintenance.manager;
      const { token, deliveries } = await claimDue(region, app.clock.now(), 10, 60_000);
      const leased = deliveries.map((d) => d.id);
      assert.equal(leased.length, 1);
      // Enabled again between the job's read and its update: not failed.
      await failLeasedToDisabled(region, leased, token, app.clock.now());
      assert.equal((await deliveryOf(tenant.id, id)).status, "PENDING");
      await app.region().owner.query(`UPDATE webhook_endpoint SET enabled = false, disabled_reason = 'disabled by its administrator' WHERE id = $1`, [id]);
      await failLeasedToDisabled(region, leased, token, app.clock.now());
      assert.equal((await deliveryOf(tenant.id, id)).status, "FAILED");
    } finally {
      worker = new WebhookWorker(app.topology, app.clock, feed, log, { rules, pollMs: 100, keys: app.keys });
      await worker.start();
    }
  });

  it("an endpoint whose deliveries all failed for five days is disabled; a success in between restarts the count", async () => {
    let status = 503;
    const receiver = await startReceiver(() => ({ status }));
    try {
      const tenant = await createTenant(app);
      const start = new Date("2040-04-01T00:00:00Z");
      const day = (n: number) => new Date(start.getTime() + n * 86_400_000);
      const attempts = async (outcome: (a: Delivery["attempts"][number]) => boolean) =>
        (await endpointOf(tenant.id, id)).deliveries.nodes.flatMap((d) => d.attempts).filter(outcome).length;
      const failedAttempts = () => attempts((a) => a.errorClass !== null);
      app.clock.set(start);
      const { id } = await createEndpoint(tenant.id, receiver.url);
      await openRequest(tenant.id);
      await eventually(async () => ((await failedAttempts()) >= 1 ? true : undefined));
      // Day 4: a success.
      app.clock.set(day(4));
      status = 200;
      await openRequest(tenant.id);
      await eventually(async () => ((await attempts((a) => a.errorClass === null)) >= 1 ? true : undefined));
      // Day 5: failing again, more than five days after the first failure, but not five days in a row.
      status = 503;
      app.clock.set(day(5));
      const before = await failedAttempts();
      await openRequest(tenant.id);
      await eventually(async () => ((await failedAttempts()) > before ? true : undefined));
      assert.equal((await endpointOf(tenant.id, id)).enabled, true, "the success on day 4 restarted the count");
      // Day 10: five days of nothing but failures.
      app.clock.set(new Date(day(10).getTime() + 1000));
      await openRequest(tenant.id);
      const disabled = await eventually(async () => {
        const e = await endpointOf(tenant.id, id);
        return e.enabled ? undefined : e;
      });
      assert.match(disabled.disabledReason!, /five consecutive days/);
    } finally {
      await receiver.close();
    }
  });

  it("refuses receivers on loopback, private, link-local and metadata addresses, at creation and at each attempt", async () => {
    const tenant = await createTenant(app);
    rules.allowPrivate = false;
    names.set("inside.test", ["127.0.0.1"]);
    names.set("mixed.test", ["93.184.216.34", "10.1.2.3"]);
    for (const url of [
      "http://127.0.0.1/hook",
      "http://169.254.169.254/latest/meta-data/",
      "http://[::1]/hook",
      "http://[::ffff:127.0.0.1]/hook",
      "http://10.0.0.8/hook",
      "http://inside.test/hook",
      "http://mixed.test/hook",
      "http://unknown.test/hook",
      "ftp://example.com/hook",
      `https://example.com/${"a".repeat(2040)}`,
    ]) {
      assertError(await as.asTenantAdmin(tenant.id).gql(CREATE, { input: { url, eventTypes: [EventType.SUBJECT_REQUEST_OPENED] } }), "BAD_USER_INPUT", "url");
    }
    assert.equal((assertOk(await as.asTenantAdmin(tenant.id).gql(ENDPOINTS)).webhookEndpoints as Endpoint[]).length, 0);
    // A name whose DNS never answers: refused once the wait is up, not held for as long as it is tried.
    const silent = await as.asTenantAdmin(tenant.id).gql(CREATE, { input: { url: "http://silent.test/hook", eventTypes: [EventType.SUBJECT_REQUEST_OPENED] } });
    assertError(silent, "BAD_USER_INPUT", "url");
    assert.match(silent.errors![0].message, /did not resolve within/);
    assert.equal((assertOk(await as.asTenantAdmin(tenant.id).gql(ENDPOINTS)).webhookEndpoints as Endpoint[]).length, 0);

    // DNS rebinding: public at creation, loopback at the attempt.
    const receiver = await startReceiver();
    try {
      names.set("rebind.test", ["93.184.216.34"]);
      const { id } = await createEndpoint(tenant.id, `http://rebind.test:${receiver.port}/hook`);
      names.set("rebind.test", ["127.0.0.1"]);
      await openRequest(tenant.id);
      const d = await eventually(async () => {
        const found = await deliveryOf(tenant.id, id);
        return found?.attempts.length ? found : undefined;
      });
      assert.equal(d.attempts[0].errorClass, "REFUSED_ADDRESS");
      assert.equal(d.attempts[0].responseStatus, null);
      assert.equal(receiver.received.length, 0);
      // The probe: allowed, the same name reaches the receiver.
      rules.allowPrivate = true;
      app.clock.set(new Date(Date.now() + 10_000));
      await receiver.waitFor(1);
    } finally {
      await receiver.close();
    }
  });

  it("does not follow a redirect, whatever it points to", async () => {
    const target = await startReceiver();
    const receiver = await startReceiver(() => ({ status: 302, headers: { location: target.url } }));
    try {
      const tenant = await createTenant(app);
      const { id } = await createEndpoint(tenant.id, receiver.url);
      await openRequest(tenant.id);
      const d = await eventually(async () => {
        const found = await deliveryOf(tenant.id, id);
        return found?.attempts.length ? found : undefined;
      });
      assert.deepEqual([d.attempts[0].responseStatus, d.attempts[0].errorClass], [302, "REDIRECT"]);
      assert.equal(target.received.length, 0);
    } finally {
      await receiver.close();
      await target.close();
    }
  });

  it("endpoints and deliveries are their owner's alone: a tenant's get its events only, the operators' operator events only", async () => {
    const receiver = await startReceiver();
    try {
      const [a, b] = [await createTenant(app), await createTenant(app)];
      const { id: ofA } = await createEndpoint(a.id, receiver.url, [EventType.SUBJECT_REQUEST_OPENED, EventType.BREACH_NOTIFICATION_OVERDUE]);
      const operator = assertOk(
        await as
          .asOperator()
          .gql(CREATE, { input: { url: receiver.url, eventTypes: [EventType.BREACH_NOTIFICATION_OVERDUE, EventType.SUBJECT_REQUEST_OPENED] } }),
      ).createWebhookEndpoint;
      assert.equal(operator.endpoint.tenant, null);

      // Another tenant's administrator: the endpoint is not there.
      assertError(await as.asTenantAdmin(b.id).gql(ENDPOINTS, { tenantId: a.id }), "NOT_FOUND");
      for (const mutation of [ROTATE, DISABLE, ENABLE, REMOVE]) assertError(await as.asTenantAdmin(b.id).gql(mutation, { id: ofA }), "NOT_FOUND");
      assert.equal(assertOk(await as.asTenantAdmin(b.id).gql(NODE, { id: ofA })).node, null);
      assert.deepEqual(assertOk(await as.asTenantAdmin(a.id).gql(NODE, { id: ofA })).node, { id: ofA });
      // Operators see the operators' endpoints only, and manage no tenant's.
      assert.deepEqual(
        (assertOk(await as.asOperator().gql(ENDPOINTS)).webhookEndpoints as Endpoint[]).map((e) => e.id),
        [operator.endpoint.id],
      );
      assertError(await as.asOperator().gql(ROTATE, { id: ofA }), "NOT_FOUND");
      assertError(
        await as.asOperator().gql(CREATE, { input: { tenantId: a.id, url: receiver.url, eventTypes: ["DATA_PURGED"] } }),
        "BAD_USER_INPUT",
        "tenantId",
      );
      // No other role manages endpoints.
      for (const principal of otherRoles(a.id, [Role.TENANT_ADMIN, Role.OPERATOR])) {
        assertError(await app.as(principal).gql(ENDPOINTS), "FORBIDDEN");
        assertError(await app.as(principal).gql(CREATE, { input: { url: receiver.url, eventTypes: ["DATA_PURGED"] } }), "FORBIDDEN");
      }

      // A's request reaches A's endpoint only; an operator event the operators' only.
      await openRequest(b.id);
      await openRequest(a.id);
      await emitOn(app.controlDb.manager, [
        { tenantId: null, type: EventType.BREACH_NOTIFICATION_OVERDUE, occurredAt: app.clock.now(), data: { incidentId: "x" } },
      ]);
      const got = await receiver.waitFor(2);
      await new Promise((ok) => setTimeout(ok, 500));
      assert.equal(got.length, 2);
      const kinds = got.map((r) => JSON.parse(r.body) as { type: string; data: { tenantId: string | null } }).map((p) => `${p.type}:${p.data.tenantId}`);
      assert.deepEqual(kinds.sort(), [`breach_notification.overdue:null`, `subject_request.opened:${a.id}`].sort());

      // Deleting an endpoint destroys its secrets with it.
      assert.equal(assertOk(await as.asTenantAdmin(a.id).gql(REMOVE, { id: ofA })).deleteWebhookEndpoint, true);
      assert.equal((await app.db.query(`SELECT count(*)::int AS n FROM webhook_endpoint WHERE id = $1`, [ofA]))[0].n, 0);
      assert.equal((await app.db.query(`SELECT count(*)::int AS n FROM webhook_endpoint WHERE tenant_id = $1`, [a.id]))[0].n, 0);
    } finally {
      await receiver.close();
    }
  });

  it("one statement's events, of several tenants, each get a delivery to every enabled endpoint of their own tenant that takes their type, and no other", async () => {
    const [a, b] = [await createTenant(app), await createTenant(app)];
    // Unreachable receivers: the rows are what is looked at (the worker leaves them in place).
    const purgedOfA = await createEndpoint(a.id, "http://127.0.0.1:9/a", [EventType.DATA_PURGED]);
    const bothOfA = await createEndpoint(a.id, "http://127.0.0.1:9/a2", [EventType.DATA_PURGED, EventType.SUBSCRIPTION_ENDED]);
    const purgedOfB = await createEndpoint(b.id, "http://127.0.0.1:9/b", [EventType.DATA_PURGED]);
    const offOfB = await createEndpoint(b.id, "http://127.0.0.1:9/b2", [EventType.DATA_PURGED]);
    assertOk(await as.asTenantAdmin(b.id).gql(DISABLE, { id: offOfB.id }));
    const [purgedA, endedA, purgedB] = [randomUUID(), randomUUID(), randomUUID()];
    const at = app.clock.now();
    // As a retention run writes them: one statement, on the region's maintenance connection.
    await emitOn(app.region().maintenance.manager, [
      { id: purgedA, tenantId: a.id, type: EventType.DATA_PURGED, occurredAt: at, data: { records: 1 } },
      { id: endedA, tenantId: a.id, type: EventType.SUBSCRIPTION_ENDED, occurredAt: at, data: {} },
      { id: purgedB, tenantId: b.id, type: EventType.DATA_PURGED, occurredAt: at, data: { records: 2 } },
    ]);
    // Written again (a repair): nothing new, the event and its deliveries are there once.
    await emitOn(app.region().maintenance.manager, [{ id: purgedA, tenantId: a.id, type: EventType.DATA_PURGED, occurredAt: at, data: { records: 1 } }]);
    const rows: Array<{ event_id: string; endpoint_id: string; tenant_id: string }> = await app
      .region()
      .owner.query(`SELECT event_id, endpoint_id, tenant_id FROM webhook_delivery WHERE event_id = ANY ($1::uuid[])`, [[purgedA, endedA, purgedB]]);
    const name = new Map([
      [purgedA, "purged A"],
      [endedA, "ended A"],
      [purgedB, "purged B"],
      [purgedOfA.id, "A's purged endpoint"],
      [bothOfA.id, "A's endpoint for both"],
      [purgedOfB.id, "B's purged endpoint"],
      [offOfB.id, "B's disabled endpoint"],
    ]);
    assert.deepEqual(rows.map((r) => `${name.get(r.event_id)} -> ${name.get(r.endpoint_id)}`).sort(), [
      "ended A -> A's endpoint for both",
      "purged A -> A's endpoint for both",
      "purged A -> A's purged endpoint",
      "purged B -> B's purged endpoint",
    ]);
    assert.ok(rows.every((r) => r.tenant_id === (r.event_id === purgedB ? b.id : a.id)));
  });

  it("at most 20 endpoints per tenant, also when created side by side", async () => {
    const tenant = await createTenant(app);
    // Several administrators at once (one principal may hold only its share of the connections).
    const results = await Promise.all(
      Array.from({ length: 22 }, (_, i) =>
        app
          .as({ ...principals.tenantAdmin(tenant.id), subject: `admin-${i}` })
          .gql(CREATE, { input: { url: `http://127.0.0.1:9/${i}`, eventTypes: [EventType.DATA_PURGED] } }),
      ),
    );
    assert.equal(results.filter((r) => !r.errors).length, 20);
    for (const r of results.filter((r) => r.errors)) assertError(r, "INVALID_STATE");
  });

  it("a delivery whose attempt died with its instance is delivered once its lease runs out, by one worker among two", async () => {
    const receiver = await startReceiver();
    let second: WebhookWorker | undefined;
    try {
      const tenant = await createTenant(app);
      await createEndpoint(tenant.id, receiver.url);
      // An instance took the delivery and died: nothing runs it until its lease runs out.
      await worker.stop();
      await openRequest(tenant.id);
      const [taken] = (await claimDue(app.region().maintenance.manager, app.clock.now(), 10, 1500)).deliveries;
      assert.ok(taken, "the delivery was leased");
      worker = new WebhookWorker(app.topology, app.clock, feed, log, { rules, pollMs: 100, keys: app.keys });
      second = new WebhookWorker(app.topology, app.clock, feed, log, { rules, pollMs: 100, keys: app.keys });
      await Promise.all([worker.start(), second.start()]);
      await worker.dispatchAll();
      assert.equal(receiver.received.length, 0, "not while the lease holds");
      // Many events at once: each is delivered once between the two workers.
      for (let i = 0; i < 15; i++) await openRequest(tenant.id);
      const got = await receiver.waitFor(16, 60_000);
      await new Promise((ok) => setTimeout(ok, 500));
      const ids = got.map((r) => r.headers["webhook-id"]);
      assert.equal(new Set(ids).size, 16);
      assert.equal(ids.length, 16, "no event was delivered twice");
    } finally {
      await second?.stop();
      await receiver.close();
    }
  });
});
