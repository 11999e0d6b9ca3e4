import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ConnectionShare } from "../../src/shared/db/connection-share";
import { shareOf } from "../../src/shared/db/connection-share";
import { em } from "../../src/shared/db/database";
import { type TestApp, principals, startTestApp, requestContext } from "../helpers/app";
import { createTenant } from "../helpers/factories";

const rateLimited = (e: unknown) => (e as { extensions?: { code?: string } }).extensions?.code === "RATE_LIMITED";

describe("connection share (pure)", () => {
  it("lets a principal use a quiet pool beyond its share, but never the reserve", async () => {
    const share = new ConnectionShare(4, 10, 2);
    for (let i = 0; i < 8; i++) await share.acquire("hog", 10);
    await assert.rejects(share.acquire("hog", 10), rateLimited, "the last two are the reserve");
    // Others still get in at once, up to their own share, out of the reserve.
    await share.acquire("a", 10);
    await share.acquire("b", 10);
    assert.equal(share.holding("hog"), 8);
  });

  it("makes a principal over its share wait while the pool is busy, and lets it go once it is quiet", async () => {
    const share = new ConnectionShare(2, 5, 1);
    const hog = [await share.acquire("hog"), await share.acquire("hog"), await share.acquire("hog"), await share.acquire("hog")];
    let hogServed = false;
    const hogNext = share.acquire("hog").then((release) => ((hogServed = true), release));
    const other = await share.acquire("other"); // under its share: at once, out of the reserve
    hog[0](); // 4 of 5 still held: busy
    await new Promise((ok) => setImmediate(ok));
    assert.equal(hogServed, false, "over its share, the hog waits while the pool is busy");
    other(); // 3 of 5: quiet again
    await hogNext;
    assert.equal(share.holding("hog"), 4);
    hog[0](); // a second release is a no-op
    assert.equal(share.holding("hog"), 4);
  });

  it("serves one principal's waiters in their arrival order", async () => {
    const share = new ConnectionShare(1, 1, 1);
    const first = await share.acquire("a");
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => share.acquire("a").then((release) => (order.push(n), release)));
    first();
    (await waiters[0])();
    (await waiters[1])();
    await waiters[2];
    assert.deepEqual(order, [1, 2, 3]);
  });

  it("refuses a waiter as RATE_LIMITED when nothing frees in time, and forgets it", async () => {
    const share = new ConnectionShare(1, 1, 1);
    const release = await share.acquire("a");
    await assert.rejects(share.acquire("a", 30), rateLimited);
    release();
    assert.equal(share.holding("a"), 0);
    (await share.acquire("a", 30))();
  });

  it("is 40% of the pool with a 20% reserve, at least one each", () => {
    assert.deepEqual(
      [1, 3, 5, 10, 20].map((n) => [ConnectionShare.forPool(n).share, ConnectionShare.forPool(n).reserve]),
      [
        [1, 1],
        [1, 1],
        [2, 1],
        [4, 2],
        [8, 4],
      ],
    );
  });
});

describe("connection share of the request pool", () => {
  let app: TestApp;
  let tenant: { id: string };
  const contextOf = (principal: ReturnType<typeof principals.operator>) => requestContext(app, principal);

  before(async () => {
    app = await startTestApp({ poolSize: 5 });
    tenant = await createTenant(app);
  });
  after(() => app.close());

  it("keeps one principal's held connections from starving another principal", async () => {
    const auditor = principals.auditor(tenant.id);
    const share = shareOf(app.appDb);
    // A pool of 5: the auditor may hold 4 while it is quiet, never the last one.
    assert.deepEqual([share.share, share.reserve], [2, 1]);
    const held = await Promise.all(Array.from({ length: 4 }, () => contextOf(auditor)));
    // The same principal's next request waits for one of its own, and is refused when none ends.
    await assert.rejects(contextOf(auditor), rateLimited);
    // Everyone else still gets a connection at once (the pool has 5).
    const other = await contextOf(principals.tenantAdmin(tenant.id));
    assert.equal((await em(other).query("SELECT 1 AS one"))[0].one, 1);
    await other.session.close();
    // When one of the auditor's requests ends, its next one goes ahead.
    const next = contextOf(auditor);
    await held[0].session.close();
    const ctx = await next;
    assert.equal((await em(ctx).query("SELECT 1 AS one"))[0].one, 1);
  });
});
