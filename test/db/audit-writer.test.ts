import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type TestApp, roles, startTestApp } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { createTenant } from "../helpers/factories";

const UPDATE = `mutation($id: ID!, $input: RetentionPolicyInput!) { updateRetentionPolicy(tenantId: $id, input: $input) { id } }`;

interface Row {
  id: string;
  tenant_id: string | null;
  chain_seq: string;
  occurred_at: Date;
  actor: string;
  actor_role: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: string;
  error_code: string | null;
  details: Record<string, unknown> | null;
  prev_hash: string;
  hash: string;
}

describe("audit writer (rule 26) and its table (rule 27)", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  const entries = (tenantId: string): Promise<Row[]> => app.db.query("SELECT * FROM audit_log WHERE tenant_id = $1 ORDER BY chain_seq", [tenantId]);

  before(async () => {
    app = await startTestApp();
    as = roles(app);
  });
  after(() => app.close());

  it("writes an ALLOWED entry for a mutation: who, role, tenant, action, target, time from the service clock", async () => {
    const at = new Date("2031-03-04T05:06:07.000Z");
    app.clock.set(at);
    try {
      const t = await createTenant(app);
      assertOk(await as.asTenantAdmin(t.id).gql(UPDATE, { id: t.id, input: { deletionGraceDays: 5 } }));
      const [created, updated] = await entries(t.id);
      assert.equal(created.action, "TENANT_CREATED");
      assert.equal(created.actor_role, "OPERATOR");
      assert.equal(created.target_id, t.id);
      assert.equal(updated.action, "RETENTION_POLICY_UPDATED");
      assert.equal(updated.actor, "test-admin");
      assert.equal(updated.actor_role, "TENANT_ADMIN");
      assert.equal(updated.outcome, "ALLOWED");
      assert.equal(updated.error_code, null);
      assert.equal(updated.details?.deletionGraceDays, 5);
      assert.equal(updated.occurred_at.toISOString(), at.toISOString());
    } finally {
      app.clock.reset();
    }
  });

  it("writes a DENIED entry with the error code when a mutation is refused, and the refused change is not made", async () => {
    const t = await createTenant(app);
    assertError(await as.asTenantAdmin(t.id).gql(UPDATE, { id: t.id, input: { deletionGraceDays: 31 } }), "BAD_USER_INPUT");
    assertError(await as.asIntegration(t.id).gql(UPDATE, { id: t.id, input: { deletionGraceDays: 3 } }), "FORBIDDEN");
    const denied = (await entries(t.id)).filter((e) => e.outcome === "DENIED");
    assert.deepEqual(
      denied.map((e) => [e.action, e.actor_role, e.error_code]),
      [
        ["RETENTION_POLICY_UPDATED", "TENANT_ADMIN", "BAD_USER_INPUT"],
        ["RETENTION_POLICY_UPDATED", "INTEGRATION", "FORBIDDEN"],
      ],
    );
    const [{ deletion_grace_days }] = await app.db.query("SELECT deletion_grace_days FROM tenant WHERE id = $1", [t.id]);
    assert.equal(deletion_grace_days, 30);
  });

  it("rolls the ALLOWED entry back with the change it describes", async () => {
    const t = await createTenant(app);
    const before = (await entries(t.id)).length;
    // A NOT_FOUND refusal by another tenant's admin goes to that admin's tenant chain, not this one.
    const other = await createTenant(app);
    assertError(await as.asTenantAdmin(other.id).gql(UPDATE, { id: t.id, input: { deletionGraceDays: 2 } }), "NOT_FOUND");
    assert.equal((await entries(t.id)).length, before);
    const [deniedInOwnChain] = (await entries(other.id)).filter((e) => e.outcome === "DENIED");
    assert.equal(deniedInOwnChain.error_code, "NOT_FOUND");
  });

  it("links each tenant's entries into one chain, also under 20 concurrent writers", async () => {
    const t = await createTenant(app);
    const admin = as.asTenantAdmin(t.id);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => admin.gql(UPDATE, { id: t.id, input: { auditLogRetentionDays: 100 + i } })));
    for (const r of results) assertOk(r);
    const chain = await entries(t.id);
    assert.equal(chain.length, 21);
    chain.forEach((e, i) => {
      assert.equal(Number(e.chain_seq), i + 1, "no gaps, no forks");
      assert.equal(e.prev_hash, i === 0 ? "0".repeat(64) : chain[i - 1].hash);
      assert.match(e.hash, /^[0-9a-f]{64}$/);
    });
    assert.equal(chain.filter((e) => e.outcome === "ALLOWED").length, 21);
    const [{ valid }] = await app.db.query(`SELECT bool_and(hash = audit_log_hash(prev_hash, a)) AS valid FROM audit_log a WHERE tenant_id = $1`, [t.id]);
    assert.equal(valid, true);
  });

  it("puts entries without a tenant into the operators' own chain", async () => {
    const code = `Z${randomUUID().replace(/-/g, "").slice(0, 8).toUpperCase()}`;
    assertOk(
      await as.asOperator().gql(`mutation($input: CreateStorageLocationInput!) { createStorageLocation(input: $input) { code } }`, {
        input: { code, name: "Zed", dataCenterCountries: ["ZA"] },
      }),
    );
    const [entry]: Row[] = await app.controlDb.query("SELECT * FROM audit_log WHERE target_id = $1", [code]);
    assert.equal(entry.tenant_id, null);
    assert.equal(entry.action, "STORAGE_LOCATION_CREATED");
  });

  it("is refused UPDATE, DELETE and TRUNCATE by the database", async () => {
    const t = await createTenant(app);
    const [entry] = await entries(t.id);
    await assert.rejects(app.db.query("UPDATE audit_log SET actor = 'someone else' WHERE id = $1", [entry.id]), /append-only/);
    await assert.rejects(app.db.query("DELETE FROM audit_log WHERE id = $1", [entry.id]), /append-only/);
    await assert.rejects(app.db.query("TRUNCATE audit_log"), /append-only/);
    assert.equal((await entries(t.id))[0].actor, entry.actor);
  });

  it("allows DELETE only to the maintenance role, inside a transaction that set the purge flag", async () => {
    const t = await createTenant(app);
    const [entry] = await entries(t.id);
    // The flag alone is not enough: the owner (and so any role but maintenance) is refused.
    await assert.rejects(
      app.db.transaction(async (m) => {
        await m.query("SELECT set_config('custodian.audit_purge', 'on', true)");
        await m.query("DELETE FROM audit_log WHERE id = $1", [entry.id]);
      }),
      /append-only/,
    );
    await app.maintenance.transaction(async (m) => {
      await m.query("SELECT set_config('custodian.audit_purge', 'on', true)");
      await m.query("DELETE FROM audit_log WHERE id = $1", [entry.id]);
    });
    assert.equal((await entries(t.id)).length, 0);
    // The flag was transaction-local: outside it, DELETE is refused again, to maintenance too.
    const t2 = await createTenant(app);
    await assert.rejects(app.maintenance.query("DELETE FROM audit_log WHERE tenant_id = $1", [t2.id]), /append-only/);
  });

  it("setTestClock is for operators only, audited, and moves every rule's time", async () => {
    const t = await createTenant(app);
    assertError(await as.asTenantAdmin(t.id).gql(`mutation { setTestClock(now: "2030-01-01T00:00:00Z") }`), "FORBIDDEN");
    try {
      assert.equal(assertOk(await as.asOperator().gql(`mutation { setTestClock(now: "2030-01-01T00:00:00Z") }`)).setTestClock, "2030-01-01T00:00:00.000Z");
      const later = await createTenant(app);
      const data = assertOk(await as.asOperator().gql(`query($id: ID!) { tenant(id: $id) { createdAt } }`, { id: later.id }));
      assert.equal(data.tenant.createdAt, "2030-01-01T00:00:00.000Z");
    } finally {
      app.clock.reset();
    }
  });
});
