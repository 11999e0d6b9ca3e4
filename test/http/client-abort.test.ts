import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { type Socket, createConnection } from "node:net";
import { after, before, describe, it } from "node:test";
import { type TestApp, principals, startTestApp } from "../helpers/app";
import { createTenant, registerSubject } from "../helpers/factories";
import { isolatedDatabase } from "../helpers/isolated-db";
import { shareOf } from "../../src/shared/db/connection-share";
import { graphqlRequests } from "../../src/shared/metrics";

const RECORDS = 20_000;
const DELAYS_MS = [5, 20, 50, 100, 200, 500];

/**
 * A client that goes away while its mutation runs changes nothing about what is committed: the
 * mutation commits whole with its audit entry or rolls back whole, and the pooled connection
 * carries no transaction into the next request. The app has one pooled connection, so the next
 * request runs on the very connection the aborted mutation used.
 */
describe("a client that aborts mid-mutation", () => {
  let app: TestApp;
  let drop: () => Promise<void>;
  /** Requests whose client went away before the server had all of it (or any of it): they never run. */
  let cutShort = 0;
  before(async () => {
    const db = await isolatedDatabase();
    drop = db.drop;
    app = await startTestApp({ databaseUrl: db.url, poolSize: 1 });
    const asked = new WeakSet<Socket>();
    app.server.http.on("connection", (socket: Socket) => socket.once("close", () => !asked.has(socket) && cutShort++));
    app.server.http.on("request", (req: IncomingMessage) => {
      asked.add(req.socket);
      req.once("close", () => !req.complete && cutShort++);
    });
  });
  after(async () => {
    await app.close();
    await drop();
  });

  /** Backends of this database other than ours that are running a statement or sit inside a transaction. */
  const busyBackends = async (): Promise<Array<{ state: string }>> =>
    app.db.query(`SELECT state FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state IS NOT NULL AND state <> 'idle'`);

  /** Waits until no backend of the database runs a statement (the in-process request's session closes after its answer). */
  const noStatementRuns = async () => {
    for (let i = 0; i < 600 && (await busyBackends()).some((b) => b.state === "active"); i++) await new Promise((ok) => setTimeout(ok, 50));
  };

  /** endSubscription operations this process has answered (or would have, had its client stayed). */
  const endSubscriptionsRun = async () =>
    (await graphqlRequests.get()).values.filter((v) => v.labels.root_field === "endSubscription").reduce((sum, v) => sum + v.value, 0);

  /**
   * Waits until the server has finished with the aborted request (it goes on without its client):
   * its operation was counted as answered, or the server never had the whole request (then it never
   * runs), or, when neither is known, nothing has held the connection for a while. A backend that is
   * idle between two statements of that request is not finished, nor is a connection it has not
   * given back yet: the next request would wait behind it.
   */
  const settled = async (runBefore: number, cutBefore: number) => {
    let quietPolls = 0;
    for (let i = 0; i < 600; i++) {
      const quiet = (await busyBackends()).length === 0 && shareOf(app.appDb).inUse === 0;
      if (quiet && ((await endSubscriptionsRun()) > runBefore || cutShort > cutBefore)) return;
      quietPolls = quiet ? quietPolls + 1 : 0;
      // About 2 s with nothing running: the request never reached the server, or it stopped it early.
      if (quietPolls >= 40) return;
      await new Promise((ok) => setTimeout(ok, 50));
    }
    throw new Error("the aborted request never finished, or left its connection inside a transaction");
  };

  const postAborted = async (token: string, query: string, variables: Record<string, unknown>, delayMs: number) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), delayMs);
    try {
      const response = await fetch(app.server.url, {
        method: "POST",
        signal: controller.signal,
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      await response.text();
      return "answered";
    } catch {
      return "aborted";
    } finally {
      clearTimeout(timer);
    }
  };

  for (const delay of DELAYS_MS) {
    it(`ending a ${RECORDS}-record subscription, aborted after ${delay} ms, commits whole or not at all`, async () => {
      const tenant = await createTenant(app);
      const subject = await registerSubject(app, tenant.id);
      await app.db.query(
        `INSERT INTO personal_data_record (id, tenant_id, data_subject_id, category, purposes, storage_location_code, value, status, created_at, updated_at)
         SELECT gen_random_uuid(), $1, $2, 'DEVICE', '{SERVICE_OPERATION}', 'EU', jsonb_build_object('n', g), 'ACTIVE', now(), now()
           FROM generate_series(1, $3) g`,
        [tenant.id, subject.id, RECORDS],
      );
      const operator = await app.token(principals.operator());
      const [runBefore, cutBefore] = [await endSubscriptionsRun(), cutShort];
      const outcome = await postAborted(operator, `mutation($t: ID!) { endSubscription(tenantId: $t) { id } }`, { t: tenant.id }, delay);
      await settled(runBefore, cutBefore);

      // The next request takes the same (only) connection; it must start clean.
      const next = await app.as(principals.operator()).gql(`{ tenants(first: 1) { totalCount } }`);
      assert.equal(next.errors, undefined, JSON.stringify(next.errors));
      await noStatementRuns();
      assert.deepEqual(await busyBackends(), [], "no pooled connection is left inside a transaction");

      const [row] = await app.db.query(
        `SELECT t.subscription_status AS status,
                (SELECT count(*) FROM personal_data_record r WHERE r.tenant_id = t.id AND r.status = 'PENDING_DELETION')::int AS pending,
                (SELECT count(*) FROM audit_log a WHERE a.tenant_id = t.id AND a.action = 'SUBSCRIPTION_ENDED' AND a.outcome = 'ALLOWED')::int AS audited
           FROM tenant t WHERE t.id = $1`,
        [tenant.id],
      );
      const whole = { status: "ENDED", pending: RECORDS, audited: 1 };
      const none = { status: "ACTIVE", pending: 0, audited: 0 };
      assert.ok(
        JSON.stringify(row) === JSON.stringify(whole) || JSON.stringify(row) === JSON.stringify(none),
        `client ${outcome}: ${JSON.stringify(row)} is neither the whole mutation nor nothing`,
      );
      const verified = await app.as(principals.auditor(tenant.id)).gql(`query($t: ID!) { verifyAuditLog(tenantId: $t) { valid } }`, { t: tenant.id });
      assert.equal(verified.data?.verifyAuditLog.valid, true, JSON.stringify(verified));
    });
  }
});

/**
 * A graceful stop ends the connections that are idle when it begins; a request that arrives on
 * one afterwards can never be answered, so it must not be run (the drill saw one committed and
 * never answered).
 */
describe("a request arriving on a connection the shutdown has closed", () => {
  it("is not run", async () => {
    const app = await startTestApp();
    const name = `Arrived late ${randomUUID()}`;
    const token = await app.token(principals.operator());
    const { hostname, port } = new URL(app.server.url);
    const socket = createConnection({ host: hostname, port: Number(port), allowHalfOpen: true });
    await new Promise<void>((ok) => socket.once("connect", () => ok()));
    let answer = "";
    socket.on("data", (chunk) => (answer += chunk));
    const closed = new Promise<void>((ok) => socket.once("close", () => ok()));
    socket.on("error", () => undefined);
    const stopping = app.server.stop();
    // The drain ends idle connections on its next turn; the request comes after.
    await new Promise((ok) => setTimeout(ok, 50));
    const body = JSON.stringify({
      query: `mutation($n: String!) { createTenant(input: { name: $n, storageLocationCode: "EU" }) { id } }`,
      variables: { n: name },
    });
    socket.write(
      `POST /graphql HTTP/1.1\r\nHost: ${hostname}\r\ncontent-type: application/json\r\nauthorization: Bearer ${token}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await Promise.race([closed, new Promise((ok) => setTimeout(ok, 2000))]);
    socket.destroy();
    await stopping;
    await new Promise((ok) => setTimeout(ok, 200));
    const created = await app.db.query(`SELECT count(*)::int AS n FROM tenant WHERE name = $1`, [name]);
    await app.close();
    assert.equal(answer, "", "no answer could be sent");
    assert.equal(created[0].n, 0, "so nothing was done");
  });
});
