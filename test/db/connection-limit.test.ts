import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Client } from "pg";
import { createDataSource } from "../../ormconfig";

/**
 * A server at its connection limit refuses a new connection for a moment: the service's pools wait
 * for a slot within their connection timeout instead of failing the statement at once
 * (PatientPool). The limit here is a role's (CONNECTION LIMIT 1), refused with the same code.
 */
describe("a connection refused for the server's connection limit", () => {
  const role = `custodian_limited_${randomBytes(4).toString("hex")}`;
  const password = randomBytes(12).toString("hex");
  let owner: Client;
  let url: string;

  before(async () => {
    owner = new Client({ connectionString: process.env.DATABASE_URL });
    await owner.connect();
    await owner.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' CONNECTION LIMIT 1`);
    const limited = new URL(process.env.DATABASE_URL!);
    limited.username = role;
    limited.password = password;
    url = limited.toString();
  });
  after(async () => {
    await owner.query(`DROP ROLE ${role}`);
    await owner.end();
  });

  /**
   * The role's one connection, held by another client until `release`. A connection an earlier
   * test closed counts against the limit until its backend has exited, a moment after its client
   * went: the holder tries again until it gets the slot.
   */
  async function slotTaken(): Promise<{ release(): Promise<void> }> {
    for (const until = Date.now() + 10_000; ; await new Promise((ok) => setTimeout(ok, 20))) {
      const holder = new Client({ connectionString: url });
      try {
        await holder.connect();
        return { release: () => holder.end() };
      } catch (error) {
        if ((error as { code?: string }).code !== "53300" || Date.now() > until) throw error;
      }
    }
  }

  it("waits for the slot to come free and then runs", async () => {
    const slot = await slotTaken();
    const db = createDataSource(url, { poolSize: 1, connectTimeoutMs: 10_000 });
    const released = new Promise<void>((ok) => setTimeout(() => slot.release().then(ok), 300));
    try {
      await db.initialize();
      assert.deepEqual(await db.query(`SELECT current_user AS name`), [{ name: role }]);
    } finally {
      await released;
      if (db.isInitialized) await db.destroy();
    }
  });

  it("fails with the server's refusal once its connection timeout is over", async () => {
    const slot = await slotTaken();
    const db = createDataSource(url, { poolSize: 1, connectTimeoutMs: 400 });
    try {
      const started = Date.now();
      await assert.rejects(db.initialize(), (error: Error & { code?: string }) => error.code === "53300" && /too many connections/.test(error.message));
      assert.ok(Date.now() - started >= 300, "it waited for a slot first");
    } finally {
      await slot.release();
      if (db.isInitialized) await db.destroy();
    }
  });
});
