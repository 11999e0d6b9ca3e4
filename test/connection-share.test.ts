import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RequestContext } from "../src/context";
import { ConnectionShare } from "../src/shared/db/connection-share";
import { shareOf } from "../src/shared/db/connection-share";
import { em } from "../src/shared/db/database";
import { type TestApp, principals, startTestApp, requestContext } from "./helpers/app";
import { createTenant } from "./helpers/factories";

const rateLimited = (e: unknown) => (e as { extensions?: { code?: string } }).extensions?.code === "RATE_LIMITED";

describe("connection share (pure)", () => {
  it("gives a holder at most its limit, queues the rest in order, and hands a freed slot to its next waiter", async () => {
    const share = new ConnectionShare(2);
    const first = await share.acquire("a");
    await share.acquire("a");
    const order: string[] = [];
    const third = share.acquire("a").then((release) => (order.push("third"), release));
    const fourth = share.acquire("a").then((release) => (order.push("fourth"), release));
    await share.acquire("b"); // another holder is never held up
    assert.equal(share.holding("a"), 2);
    first();
    first(); // a second release is a no-op
    (await third)();
    await fourth;
    assert.deepEqual(order, ["third", "fourth"]);
    assert.equal(share.holding("a"), 2);
  });

  it("refuses a waiter as RATE_LIMITED when none of its own is freed in time, and forgets it", async () => {
    const share = new ConnectionShare(1);
    const release = await share.acquire("a");
    await assert.rejects(share.acquire("a", 30), rateLimited);
    release();
    assert.equal(share.holding("a"), 0);
    (await share.acquire("a", 30))();
  });

  it("is 40% of the pool, at least one", () => {
    assert.deepEqual([1, 3, 10, 20].map((n) => ConnectionShare.forPool(n).limit), [1, 1, 4, 8]);
  });
});

describe("connection share of the request pool", () => {
  let app: TestApp;
  let tenant: { id: string };
  const open: RequestContext[] = [];
  const contextOf = async (principal: ReturnType<typeof principals.operator>) => {
    const ctx = await requestContext(app, principal);
    open.push(ctx);
    return ctx;
  };

  before(async () => {
    app = await startTestApp({ poolSize: 5 });
    tenant = await createTenant(app);
  });
  after(async () => {
    for (const ctx of open) await ctx.session.close().catch(() => undefined);
    await app.close();
  });

  it("keeps one principal's held connections from starving another principal", async () => {
    const auditor = principals.auditor(tenant.id);
    const limit = shareOf(app.appDb).limit;
    assert.equal(limit, 2);
    const held = await Promise.all(Array.from({ length: limit }, () => contextOf(auditor)));
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
