import type { DataSource } from "typeorm";
import { AuditService } from "../../src/modules/audit/audit.service";
import { RetentionService } from "../../src/modules/retention/retention.service";
import { type TestApp, roles, startTestApp, TEST_AUDIT_SIGNER } from "./app";
import { createTenant, recordData, registerSubject } from "./factories";
import { isolatedDatabase } from "./isolated-db";

/** The tests of the data's lifecycle (subscriptions, retention, compliance) count days from a fixed day 0. */
export const DAY = 86_400_000;
export const DAY0 = new Date("2040-01-01T00:00:00.000Z").getTime();
export const at = (days: number) => new Date(DAY0 + days * DAY);

export const END = `mutation($id: ID!) { endSubscription(tenantId: $id) { id subscriptionStatus subscriptionEndedAt dataPurgeDueAt } }`;
export const REACTIVATE = `mutation($id: ID!) { reactivateSubscription(tenantId: $id) { id subscriptionStatus subscriptionEndedAt dataPurgeDueAt } }`;
export const DELETE = `mutation($id: ID!) { deletePersonalData(id: $id) { id purgeDueAt } }`;

/**
 * An app on a database of its own (a run sees only this file's tenants), with what lifecycle
 * tests use: a retention engine, rows as stored, and tenants made on day 0.
 */
export async function lifecycleApp() {
  const database = await isolatedDatabase();
  const app: TestApp = await startTestApp({ databaseUrl: database.url });
  return {
    app,
    as: roles(app),
    databaseUrl: database.url,
    engine: (batchSize = 1000, db: DataSource = app.maintenance) =>
      new RetentionService(db, app.clock, new AuditService(), TEST_AUDIT_SIGNER, app.keys.shredder(app.region().keystore), batchSize),
    record: async (id: string): Promise<Record<string, any> | undefined> => (await app.db.query("SELECT * FROM personal_data_record WHERE id = $1", [id]))[0],
    count: async (table: string, tenantId: string): Promise<number> =>
      (await app.db.query(`SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`, [tenantId]))[0].n,
    /** A tenant made on day 0 with the given grace, one subject and `n` records. */
    async tenantWithRecords(n: number, graceDays = 30) {
      app.clock.set(at(0));
      const tenant = await createTenant(app, { retentionPolicy: { deletionGraceDays: graceDays } });
      const subject = await registerSubject(app, tenant.id);
      const records = [];
      for (let i = 0; i < n; i++) records.push(await recordData(app, tenant.id, subject.id, { value: { i } }));
      return { tenant, subject, records };
    },
    async close() {
      await app.close();
      await database.drop();
    },
  };
}
