import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { EventType } from "../../src/modules/events/event-type";
import { EventFeed } from "../../src/modules/events/event-feed";
import { emitOn } from "../../src/modules/events/outbox";
import { createSchema } from "../../src/schema";
import { startServer } from "../../src/server";
import { signToken } from "../../src/shared/auth/jwt";
import type { Principal } from "../../src/shared/auth/principal";
import { MAX_SUBSCRIPTIONS_PER_SOCKET } from "../../src/shared/graphql/websocket";
import { createLogger } from "../../src/shared/logging";
import { registry } from "../../src/shared/metrics";
import { assertOk } from "../helpers/assertions";
import { createTenant, registerSubject } from "../helpers/factories";
import { isolatedDatabase } from "../helpers/isolated-db";
import { principals, roles, startTestApp, TEST_AUDIT_SIGNER, TEST_SECRET, testKeyRing, type TestApp } from "../helpers/app";
import { eventually } from "../helpers/receiver";

const OPEN = `mutation($input: OpenSubjectRequestInput!) { openSubjectRequest(input: $input) { id } }`;
const EVENTS = `subscription($types: [EventType!]) { events(types: $types) { id type tenantId occurredAt data } }`;

interface Got {
  id: string;
  type: string;
  tenantId: string | null;
  data: Record<string, unknown>;
}

/** A graphql-ws client that records what it receives, the errors and how its socket closed. */
function subscriber(url: string, authorization: string | undefined, types?: string[]) {
  const received: Got[] = [];
  const errors: unknown[] = [];
  let closed: { code: number; reason: string } | null = null;
  const client: Client = createClient({
    url: url.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    connectionParams: authorization === undefined ? {} : { authorization },
    lazy: false,
    retryAttempts: 0,
    on: { closed: (event) => (closed = { code: (event as { code: number }).code, reason: String((event as { reason: unknown }).reason) }) },
    onNonLazyError: () => undefined,
  });
  let acknowledged = false;
  client.on("connected", () => (acknowledged = true));
  const stop = client.subscribe<{ events: Got }>(
    { query: EVENTS, variables: { types } },
    { next: (r) => (r.data ? received.push(r.data.events) : errors.push(r.errors)), error: (e) => errors.push(e), complete: () => undefined },
  );
  return {
    received,
    errors,
    closed: () => closed,
    connected: () => eventually(async () => (acknowledged ? true : undefined), 5000, "the connection's acknowledgement"),
    /** Ends the subscription and the socket. */
    async close() {
      stop();
      await client.dispose();
    },
  };
}

/** The subscriptions this process holds open, as its gauge reports them. */
async function openSubscriptions(): Promise<number> {
  const gauge = registry.getSingleMetric("custodian_event_subscriptions");
  assert.ok(gauge, "the gauge is registered");
  return (await gauge.get()).values[0]?.value ?? 0;
}

/** graphql-transport-ws by hand: a socket that subscribes and can be cut without a goodbye. */
async function rawSocket(url: string, authorization: string) {
  const socket = new WebSocket(url.replace(/^http/, "ws"), "graphql-transport-ws");
  const messages: Array<{ id?: string; type: string; payload?: unknown }> = [];
  socket.on("message", (data) => messages.push(JSON.parse(String(data))));
  await new Promise((ok, fail) => socket.once("open", ok).once("error", fail));
  socket.send(JSON.stringify({ type: "connection_init", payload: { authorization } }));
  await eventually(async () => (messages.some((m) => m.type === "connection_ack") ? true : undefined), 5000, "the acknowledgement");
  return {
    messages,
    subscribe: (id: string) => socket.send(JSON.stringify({ id, type: "subscribe", payload: { query: EVENTS } })),
    complete: (id: string) => socket.send(JSON.stringify({ id, type: "complete" })),
    /** Ends the TCP connection at once: no close frame, no complete messages. */
    cut: () => socket.terminate(),
  };
}

/** GraphQL subscriptions (DOMAIN rule 39): committed events, to whom the role table lets see them. */
describe("subscriptions", () => {
  let app: TestApp;
  let drop: () => Promise<void>;
  const tokenOf = async (p: Principal, expiresIn?: string) =>
    `Bearer ${await signToken({ subject: p.subject, role: p.role, tenantId: p.tenantId ?? undefined, dataSubjectId: p.dataSubjectId ?? undefined, expiresIn }, TEST_SECRET)}`;

  before(async () => {
    const database = await isolatedDatabase();
    drop = database.drop;
    app = await startTestApp({ databaseUrl: database.url, subscriptions: true });
  });
  after(async () => {
    await app.close();
    await drop();
  });

  it("closes a socket without a token, with a bad one, and when its token expires, with 4403", async () => {
    const none = subscriber(app.server.url, undefined);
    const bad = subscriber(app.server.url, "Bearer not-a-token");
    await eventually(async () => (none.closed() && bad.closed() ? true : undefined), 5000, "both refusals");
    assert.equal(none.closed()!.code, 4403);
    assert.equal(bad.closed()!.code, 4403);

    const short = subscriber(app.server.url, await tokenOf(principals.operator(), "2s"));
    await short.connected();
    assert.equal(short.closed(), null);
    await eventually(async () => short.closed() ?? undefined, 6000, "the expiry");
    assert.equal(short.closed()!.code, 4403);
  });

  it("tells each role what the role table says, committed events only", async () => {
    const [a, b] = [await createTenant(app), await createTenant(app)];
    const [mine, other] = [await registerSubject(app, a.id), await registerSubject(app, a.id)];
    const as = roles(app);
    const subs = {
      admin: subscriber(app.server.url, await tokenOf(principals.tenantAdmin(a.id))),
      auditor: subscriber(app.server.url, await tokenOf(principals.auditor(a.id))),
      integration: subscriber(app.server.url, await tokenOf(principals.integration(a.id))),
      subject: subscriber(app.server.url, await tokenOf(principals.subject(a.id, mine.id))),
      operator: subscriber(app.server.url, await tokenOf(principals.operator())),
      otherAdmin: subscriber(app.server.url, await tokenOf(principals.tenantAdmin(b.id))),
      partner: subscriber(app.server.url, await tokenOf(principals.partner())),
      purgesOnly: subscriber(app.server.url, await tokenOf(principals.tenantAdmin(a.id)), [EventType.DATA_PURGED]),
    };
    try {
      for (const s of Object.values(subs)) await s.connected();
      // A rolled-back event reaches no one.
      await assert.rejects(
        app.maintenance.transaction(async (manager) => {
          await emitOn(manager, [{ tenantId: a.id, type: EventType.DATA_PURGED, occurredAt: app.clock.now(), data: { recordsPurged: 99 } }]);
          throw new Error("rolled back");
        }),
      );
      const mineRequest = assertOk(await as.asSubject(a.id, mine.id).gql(OPEN, { input: { dataSubjectId: mine.id, kind: "ACCESS" } })).openSubjectRequest.id;
      const otherRequest = assertOk(await as.asTenantAdmin(a.id).gql(OPEN, { input: { dataSubjectId: other.id, kind: "ERASURE" } })).openSubjectRequest.id;
      await emitOn(app.maintenance.manager, [{ tenantId: a.id, type: EventType.DATA_PURGED, occurredAt: app.clock.now(), data: { recordsPurged: 1 } }]);
      await emitOn(app.controlDb.manager, [
        { tenantId: null, type: EventType.BREACH_NOTIFICATION_OVERDUE, occurredAt: app.clock.now(), data: { incidentId: "i" } },
      ]);

      await eventually(async () => (subs.admin.received.length >= 3 && subs.operator.received.length >= 1 ? true : undefined));
      await new Promise((ok) => setTimeout(ok, 300));
      // Events are not ordered across commits: compared as sets.
      const seen = (s: { received: Got[] }) =>
        s.received.map((e) => (e.type === EventType.SUBJECT_REQUEST_OPENED ? `opened:${e.data.requestId === mineRequest ? "mine" : "other"}` : e.type)).sort();
      assert.deepEqual(seen(subs.admin), ["DATA_PURGED", "opened:mine", "opened:other"]);
      assert.deepEqual(seen(subs.auditor), ["DATA_PURGED", "opened:mine", "opened:other"]);
      assert.deepEqual(seen(subs.integration), ["DATA_PURGED"], "no subject_request.* for integrations");
      assert.deepEqual(seen(subs.subject), ["opened:mine"], "a subject sees its own requests only");
      assert.deepEqual(seen(subs.operator), ["BREACH_NOTIFICATION_OVERDUE"], "operators see operator events, no tenant's");
      assert.deepEqual(seen(subs.otherAdmin), []);
      assert.deepEqual(seen(subs.purgesOnly), ["DATA_PURGED"]);
      assert.deepEqual(
        subs.admin.received.find((e) => e.type === EventType.DATA_PURGED)!.data,
        { recordsPurged: 1 },
        "the committed one, not the rolled-back one",
      );
      assert.equal(subs.partner.received.length, 0);
      assert.match(JSON.stringify(subs.partner.errors), /FORBIDDEN/);
      assert.equal(subs.admin.received[0].tenantId, a.id);
      assert.ok(otherRequest);
    } finally {
      for (const s of Object.values(subs)) await s.close();
    }
  });

  it("an event committed through one instance reaches a subscriber of another", async () => {
    const log = createLogger("silent");
    const feed = new EventFeed(app.topology, log);
    await feed.start();
    const other = await startServer({
      config: { port: 0, host: "127.0.0.1", jwtSecret: TEST_SECRET, debugErrors: false, bodyLimitBytes: 65536, production: false },
      topology: app.topology,
      clock: app.clock,
      log,
      schema: await createSchema({ auditSigner: TEST_AUDIT_SIGNER, keys: testKeyRing() }),
      feed,
    });
    const tenant = await createTenant(app);
    const s = subscriber(other.url, await tokenOf(principals.tenantAdmin(tenant.id)));
    try {
      await s.connected();
      const subject = await registerSubject(app, tenant.id);
      assertOk(
        await roles(app)
          .asTenantAdmin(tenant.id)
          .gql(OPEN, { input: { dataSubjectId: subject.id, kind: "ACCESS" } }),
      );
      await eventually(async () => (s.received.length ? true : undefined));
      assert.equal(s.received[0].type, EventType.SUBJECT_REQUEST_OPENED);
    } finally {
      await s.close();
      // Shutdown drains sockets too: a socket still open is closed with 1001.
      const lingering = subscriber(other.url, await tokenOf(principals.tenantAdmin(tenant.id)));
      await lingering.connected();
      await other.stop();
      await feed.stop();
      await eventually(async () => lingering.closed() ?? undefined, 5000, "the drain");
      assert.equal(lingering.closed()!.code, 1001);
    }
  });

  it("holds at most 10 sockets per principal; closing one frees its place", async () => {
    const token = await tokenOf(principals.operator());
    const open = [];
    for (let i = 0; i < 10; i++) open.push(subscriber(app.server.url, token));
    for (const s of open) await s.connected();
    const eleventh = subscriber(app.server.url, token);
    await eventually(async () => eleventh.closed() ?? undefined, 5000, "the refusal");
    assert.equal(eleventh.closed()!.code, 4429);
    await open.pop()!.close();
    const again = subscriber(app.server.url, token);
    await again.connected();
    for (const s of [...open, again]) await s.close();
  });

  it("holds at most 20 subscriptions per socket, and a socket cut without a goodbye frees them all", async () => {
    const socket = await rawSocket(app.server.url, await tokenOf(principals.tenantAdmin((await createTenant(app)).id)));
    const ids = Array.from({ length: MAX_SUBSCRIPTIONS_PER_SOCKET }, (_, i) => `s${i}`);
    for (const id of ids) socket.subscribe(id);
    await eventually(async () => ((await openSubscriptions()) === MAX_SUBSCRIPTIONS_PER_SOCKET ? true : undefined), 5000, "the subscriptions");

    socket.subscribe("one-too-many");
    await eventually(async () => socket.messages.find((m) => m.id === "one-too-many"), 5000, "the refusal");
    assert.equal(socket.messages.find((m) => m.id === "one-too-many")!.type, "error");
    assert.match(JSON.stringify(socket.messages.find((m) => m.id === "one-too-many")!.payload), /RATE_LIMITED/);
    assert.equal(await openSubscriptions(), MAX_SUBSCRIPTIONS_PER_SOCKET);

    // Completing one makes room for another.
    socket.complete("s0");
    await eventually(async () => ((await openSubscriptions()) === MAX_SUBSCRIPTIONS_PER_SOCKET - 1 ? true : undefined), 5000, "the completion");
    socket.subscribe("in-its-place");
    await eventually(async () => ((await openSubscriptions()) === MAX_SUBSCRIPTIONS_PER_SOCKET ? true : undefined), 5000, "the new one");
    assert.equal(socket.messages.filter((m) => m.type === "error").length, 1);

    socket.cut();
    await eventually(async () => ((await openSubscriptions()) === 0 ? true : undefined), 5000, "the subscriptions' release");
  });

  it("refuses queries and mutations over the socket, and operations over the query limits", async () => {
    const token = await tokenOf(principals.operator());
    const client = createClient({
      url: app.server.url.replace(/^http/, "ws"),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: token },
      retryAttempts: 0,
    });
    // An operation that is not refused runs on without an answer: after 5 s that is the answer.
    const refusalOf = (query: string) =>
      new Promise<string>((resolve) => {
        const stop = client.subscribe(
          { query },
          { next: (r) => resolve(JSON.stringify(r.errors)), error: (e) => resolve(JSON.stringify(e)), complete: () => resolve("completed") },
        );
        setTimeout(() => {
          stop();
          resolve("not refused");
        }, 5000).unref();
      });
    try {
      assert.match(await refusalOf(`{ viewer { role } }`), /BAD_USER_INPUT/);
      assert.match(await refusalOf(`subscription { events(types: []) { id } }`), /BAD_USER_INPUT.*types|types.*BAD_USER_INPUT/, "an empty list of types");
      const aliases = Array.from({ length: 20 }, (_, i) => `a${i}: id`).join(" ");
      assert.match(await refusalOf(`subscription { events { ${aliases} } }`), /QUERY_TOO_COMPLEX/);
    } finally {
      await client.dispose();
    }
  });
});
