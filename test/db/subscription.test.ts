import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { Role } from "../../src/shared/auth/role";
import { type TestApp, otherRoles, type roles } from "../helpers/app";
import { assertError, assertOk } from "../helpers/assertions";
import { RECORD, createTenant } from "../helpers/factories";
import { at, DELETE, END, lifecycleApp, REACTIVATE } from "../helpers/lifecycle";

/** Ending and reactivating a tenant's subscription (rules 5, 7). */
describe("subscriptions", () => {
  let app: TestApp;
  let as: ReturnType<typeof roles>;
  let lifecycle: Awaited<ReturnType<typeof lifecycleApp>>;
  const engine = () => lifecycle.engine();
  const record = (id: string) => lifecycle.record(id);
  const tenantWithRecords = (n: number, graceDays?: number) => lifecycle.tenantWithRecords(n, graceDays);

  before(async () => {
    lifecycle = await lifecycleApp();
    ({ app, as } = lifecycle);
  });
  beforeEach(() => app.clock.reset());
  after(() => lifecycle.close());

  describe("endSubscription (passive deletion, rule 5)", () => {
    it("ends the subscription and makes every active record pending until now + grace; then no new data", async () => {
      const { tenant, subject, records } = await tenantWithRecords(3, 10);
      app.clock.set(at(1));
      assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: records[0].id }));
      app.clock.set(at(2));
      const ended = assertOk(await as.asOperator().gql(END, { id: tenant.id })).endSubscription;
      assert.deepEqual(ended, { id: tenant.id, subscriptionStatus: "ENDED", subscriptionEndedAt: at(2).toISOString(), dataPurgeDueAt: at(12).toISOString() });
      const [actively, ...passively] = await Promise.all(records.map((r) => record(r.id)));
      assert.deepEqual([actively!.deletion_reason, actively!.purge_due_at.toISOString()], ["ACTIVE_DELETION", at(11).toISOString()], "its own deletion stays");
      for (const r of passively)
        assert.deepEqual([r!.status, r!.deletion_reason, r!.purge_due_at.toISOString()], ["PENDING_DELETION", "PASSIVE_DELETION", at(12).toISOString()]);
      const input = { tenantId: tenant.id, dataSubjectId: subject.id, category: "DEVICE", purposes: ["SUPPORT"], value: {} };
      assertError(await as.asIntegration(tenant.id).gql(RECORD, { input }), "SUBSCRIPTION_ENDED");
      assertError(
        await as.asIntegration(tenant.id).gql(`mutation($input: RecordPersonalDataBatchInput!) { recordPersonalDataBatch(input: $input) { count } }`, {
          input: { tenantId: tenant.id, records: [{ dataSubjectId: subject.id, category: "DEVICE", purposes: ["SUPPORT"], value: {} }] },
        }),
        "SUBSCRIPTION_ENDED",
      );
      assertError(
        await as.asIntegration(tenant.id).gql(`mutation($input: RegisterDataSubjectInput!) { registerDataSubject(input: $input) { id } }`, {
          input: { tenantId: tenant.id, externalId: "late" },
        }),
        "SUBSCRIPTION_ENDED",
      );
      assertError(await as.asOperator().gql(END, { id: tenant.id }), "INVALID_STATE");
    });

    it("is for operators only", async () => {
      const tenant = await createTenant(app);
      for (const p of otherRoles(tenant.id, [Role.OPERATOR])) {
        assertError(await app.as(p).gql(END, { id: tenant.id }), "FORBIDDEN");
        assertError(await app.as(p).gql(REACTIVATE, { id: tenant.id }), "FORBIDDEN");
      }
    });
  });

  describe("reactivateSubscription (rule 7)", () => {
    it("restores exactly the records passive deletion took; actively deleted ones stay pending with their own due date", async () => {
      const { tenant, records } = await tenantWithRecords(4, 10);
      app.clock.set(at(1));
      assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: records[0].id })); // before the end: due day 11
      app.clock.set(at(2));
      assertOk(await as.asOperator().gql(END, { id: tenant.id }));
      app.clock.set(at(3));
      assertOk(await as.asIntegration(tenant.id).gql(DELETE, { id: records[1].id })); // during: its own deletion, due day 13
      app.clock.set(at(4));
      const back = assertOk(await as.asOperator().gql(REACTIVATE, { id: tenant.id })).reactivateSubscription;
      assert.deepEqual(back, { id: tenant.id, subscriptionStatus: "ACTIVE", subscriptionEndedAt: null, dataPurgeDueAt: null });
      const rows = await Promise.all(records.map((r) => record(r.id)));
      assert.deepEqual(
        rows.map((r) => [r!.status, r!.purge_due_at?.toISOString() ?? null]),
        [
          ["PENDING_DELETION", at(11).toISOString()],
          ["PENDING_DELETION", at(13).toISOString()],
          ["ACTIVE", null],
          ["ACTIVE", null],
        ],
      );
      assertError(await as.asOperator().gql(REACTIVATE, { id: tenant.id }), "INVALID_STATE", undefined);
    });

    it("is refused once the purge is due, and for a purged tenant", async () => {
      const { tenant } = await tenantWithRecords(1, 5);
      assertOk(await as.asOperator().gql(END, { id: tenant.id }));
      app.clock.set(at(5));
      assertError(await as.asOperator().gql(REACTIVATE, { id: tenant.id }), "INVALID_STATE");
      await engine().run({ dryRun: false });
      assert.equal((await app.db.query("SELECT subscription_status FROM tenant WHERE id = $1", [tenant.id]))[0].subscription_status, "PURGED");
      assertError(await as.asOperator().gql(REACTIVATE, { id: tenant.id }), "INVALID_STATE");
      assertError(await as.asOperator().gql(END, { id: tenant.id }), "INVALID_STATE");
    });
  });
});
