import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type TestApp, principals, startTestApp } from "../helpers/app";
import { assertOk } from "../helpers/assertions";
import { createTenant, recordData, registerSubject, declaredIncident } from "../helpers/factories";
import { isolatedDatabase } from "../helpers/isolated-db";
import { lifecycleApp } from "../helpers/lifecycle";

/**
 * A write that spans control and a region commits the region first and control last (the
 * unit of work). A crash between them is simulated by making the second commit fail (a
 * deferred trigger that throws at COMMIT), and the next start repairs what it left.
 */
describe("a crash between a region's commit and control's", () => {
  let database: { url: string; drop(): Promise<void> };
  let app: TestApp;

  before(async () => {
    database = await isolatedDatabase();
    app = await startTestApp({ databaseUrl: database.url });
    await app.controlDb.query(`
      CREATE FUNCTION test_crash() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF (TG_OP = 'INSERT' AND NEW.name LIKE 'CRASH-CREATE%') OR (NEW.subscription_status = 'ENDED' AND NEW.name LIKE 'CRASH-END%') THEN
          RAISE EXCEPTION 'simulated crash before control commits';
        END IF;
        RETURN NEW;
      END $$;`);
  });

  /** While `work` runs, control's commit fails for tenants named CRASH-CREATE (when created) or CRASH-END (when ended). */
  async function crashing(work: () => Promise<void>): Promise<void> {
    await app.controlDb.query(
      `CREATE CONSTRAINT TRIGGER test_crash AFTER INSERT OR UPDATE ON tenant DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_crash()`,
    );
    try {
      await work();
    } finally {
      await app.controlDb.query(`DROP TRIGGER test_crash ON tenant`);
    }
  }
  after(async () => {
    await app.close();
    await database.drop();
  });

  /** A new instance on the same databases: its start repairs each region against control. */
  async function restart(): Promise<void> {
    await app.close();
    app = await startTestApp({ databaseUrl: database.url });
  }

  const inRegion = async (id: string) => (await app.db.query(`SELECT subscription_status AS s FROM tenant WHERE id = $1`, [id]))[0]?.s ?? null;
  const inControl = async (id: string) => (await app.controlDb.query(`SELECT subscription_status AS s FROM tenant WHERE id = $1`, [id]))[0]?.s ?? null;

  it("creating a tenant: the region has it, control's directory does not, until the repair", async () => {
    const name = `CRASH-CREATE ${randomUUID()}`;
    await crashing(async () => {
      const result = await app
        .as(principals.operator())
        .gql(`mutation($name: String!) { createTenant(input: { name: $name, storageLocationCode: "EU" }) { id } }`, { name });
      assert.ok(result.errors?.length, "control's commit failed: the mutation was not acknowledged");
    });
    const [{ id }] = await app.db.query(`SELECT id FROM tenant WHERE name = $1`, [name]);
    assert.deepEqual([await inRegion(id), await inControl(id)], ["ACTIVE", null], "the crash left the two disagreeing");
    await restart();
    assert.deepEqual([await inRegion(id), await inControl(id)], ["ACTIVE", "ACTIVE"]);
    // The tenant is reachable again: its roles' requests route through the directory.
    assert.equal(assertOk(await app.as(principals.tenantAdmin(id)).gql(`query($id: ID!) { tenant(id: $id) { name } }`, { id })).tenant.name, name);
  });

  it("ending a subscription: the region ENDED it with its records, control's directory did not, until the repair", async () => {
    const tenant = await createTenant(app, { name: `CRASH-END ${randomUUID()}` });
    await recordData(app, tenant.id, (await registerSubject(app, tenant.id)).id);
    await crashing(async () => {
      const result = await app.as(principals.operator()).gql(`mutation($id: ID!) { endSubscription(tenantId: $id) { id } }`, { id: tenant.id });
      assert.ok(result.errors?.length);
    });
    assert.deepEqual([await inRegion(tenant.id), await inControl(tenant.id)], ["ENDED", "ACTIVE"]);
    const [{ pending }] = await app.db.query(`SELECT count(*)::int AS pending FROM personal_data_record WHERE tenant_id = $1 AND status = 'PENDING_DELETION'`, [
      tenant.id,
    ]);
    assert.equal(pending, 1, "the region's part is whole: the tenant and its records, in one transaction");
    await restart();
    assert.deepEqual([await inRegion(tenant.id), await inControl(tenant.id)], ["ENDED", "ENDED"]);
  });

  it("never moves control's directory back: a row newer in control than the region read stays", async () => {
    const tenant = await createTenant(app);
    // As if a change committed in both after the repair read the region: control is ahead of what it read.
    await app.controlDb.query(`UPDATE tenant SET name = 'Renamed later', version = version + 5 WHERE id = $1`, [tenant.id]);
    await restart();
    assert.equal((await app.controlDb.query(`SELECT name FROM tenant WHERE id = $1`, [tenant.id]))[0].name, "Renamed later");
  });

  it("notifying tenants of a breach: control has the notification, the tenant's chain lacks its entry, until the repair", async () => {
    const tenant = await createTenant(app);
    // The entries are written after control's commit: fail them in the region, as a crash there would.
    await app.db.query(`
      CREATE FUNCTION test_crash_entry() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF NEW.action = 'BREACH_NOTIFICATION_SENT' THEN RAISE EXCEPTION 'simulated crash after control committed'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_crash_entry BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION test_crash_entry();`);
    await declaredIncident(app, [tenant.id]);
    const [notification] = await app.controlDb.query(`SELECT id FROM breach_notification WHERE tenant_id = $1`, [tenant.id]);
    const entries = async () => app.db.query(`SELECT actor FROM audit_log WHERE action = 'BREACH_NOTIFICATION_SENT' AND target_id = $1`, [notification.id]);
    assert.deepEqual(await entries(), [], "the crash left the notification without its entry");
    await app.db.query(`DROP TRIGGER test_crash_entry ON audit_log`);
    await restart();
    assert.deepEqual(
      (await entries()).map((e: { actor: string }) => e.actor),
      ["custodian-repair"],
    );
    await restart();
    assert.equal((await entries()).length, 1, "the repair is idempotent");
    // The chain still verifies.
    assert.equal(
      assertOk(await app.as(principals.auditor(tenant.id)).gql(`query($id: ID!) { verifyAuditLog(tenantId: $id) { valid } }`, { id: tenant.id })).verifyAuditLog
        .valid,
      true,
    );
  });
});

/** Each database holds residency too: whatever the code does, a row that belongs elsewhere is refused. */
describe("each database's residency guard", () => {
  let life: Awaited<ReturnType<typeof lifecycleApp>>;
  let app: TestApp;
  before(async () => {
    life = await lifecycleApp();
    app = life.app;
  });
  after(() => life.close());

  const tenantRow = (location: string) => [randomUUID(), `Guard ${location}`, location];
  const INSERT_TENANT = `INSERT INTO tenant (id, name, storage_location_code, created_at, updated_at) VALUES ($1, $2, $3, now(), now())`;

  it("a region refuses another location's tenant, control's rows and the operators' entries; control refuses tenant data", async () => {
    const eu = app.region("EU").maintenance;
    const control = app.topology.control.maintenance;
    // The probe: what belongs there is accepted.
    await eu.query(INSERT_TENANT, tenantRow("EU"));
    await control.query(INSERT_TENANT, tenantRow("US"));
    await assert.rejects(eu.query(INSERT_TENANT, tenantRow("US")), /a tenant of US cannot be stored in the EU region database/);
    const [{ id: subjectTenant }] = await eu.query(`SELECT id FROM tenant LIMIT 1`);
    await assert.rejects(
      control.query(`INSERT INTO data_subject (id, tenant_id, external_id, created_at, updated_at) VALUES ($1, $2, 'x', now(), now())`, [
        randomUUID(),
        subjectTenant,
      ]),
      /data_subject rows belong in their tenant's region database, never in control/,
    );
    await assert.rejects(
      eu.query(
        `INSERT INTO breach_incident (id, title, description, severity, status, detected_at, created_at, updated_at) VALUES ($1, 't', 'd', 'LOW', 'INVESTIGATING', now(), now(), now())`,
        [randomUUID()],
      ),
      /breach_incident rows belong in control, not in the EU region database/,
    );
    await assert.rejects(
      eu.query(
        `INSERT INTO audit_log (tenant_id, occurred_at, actor, actor_role, action, outcome) VALUES (NULL, now(), 'x', 'OPERATOR', 'TENANT_CREATED', 'ALLOWED')`,
      ),
      /the operators' in control/,
    );
    await assert.rejects(
      control.query(
        `INSERT INTO audit_log (tenant_id, occurred_at, actor, actor_role, action, outcome) VALUES ($1, now(), 'x', 'OPERATOR', 'TENANT_CREATED', 'ALLOWED')`,
        [subjectTenant],
      ),
      /a tenant's audit entries live in its region/,
    );
  });

  it("a location's database cannot be declared another's", async () => {
    // Two locations pointed at one database: the second refuses to start on it.
    await assert.rejects(startTestApp({ databaseUrl: life.databaseUrl, regionUrls: { US: app.region("EU").url } }), /declared EU's, not US's/);
  });
});
