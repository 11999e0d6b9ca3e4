import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type Caller, type TestApp, principals, startTestApp } from "../helpers/app";
import { createTenant, registerSubject } from "../helpers/factories";

const WRITERS = 4;
/** Each writer's most calls: what the old row locks let through after the change was asked for is far more. */
const CALLS = 60;

/**
 * A revocation or an end of subscription takes effect after the writes already in, however many
 * more keep coming: writes sent after it queue behind it and are refused. Row locks alone let each
 * new FOR SHARE through while the FOR UPDATE waited, as long as writers overlapped.
 */
describe("changes that stop writes, under a stream of writes", () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ poolSize: WRITERS + 3 });
  });
  after(() => app.close());

  /**
   * Runs WRITERS loops of `write` and, once each has succeeded a few times, `change`; returns how
   * many writes sent after the change was sent were acknowledged.
   */
  async function race(write: () => Promise<{ errors?: unknown[] }>, change: () => Promise<{ errors?: unknown[] }>) {
    let changeSent = false;
    let changeDone = false;
    let acknowledgedAfterSent = 0;
    let acknowledgedAfterDone = 0;
    let warm = 0;
    let started!: () => void;
    const warmed = new Promise<void>((ok) => (started = ok));
    const loops = Array.from({ length: WRITERS }, async () => {
      for (let i = 0; i < CALLS && !changeDone; i++) {
        const sentAfter = changeSent;
        const result = await write();
        if (!result.errors) {
          if (sentAfter) acknowledgedAfterSent += 1;
          if (changeDone) acknowledgedAfterDone += 1;
          if (++warm === WRITERS * 2) started();
        }
      }
      started();
    });
    await warmed;
    changeSent = true;
    const changed = await change();
    changeDone = true;
    await Promise.all(loops);
    assert.equal(changed.errors, undefined, JSON.stringify(changed.errors));
    return { acknowledgedAfterSent, acknowledgedAfterDone };
  }

  async function tenantWithRecords(n: number) {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const rows = await app.db.query(
      `INSERT INTO personal_data_record (id, tenant_id, data_subject_id, category, purposes, storage_location_code, value, status, created_at, updated_at)
       SELECT gen_random_uuid(), $1, $2, 'DEVICE', '{SUPPORT}', 'EU', jsonb_build_object('n', g), 'ACTIVE', now(), now()
         FROM generate_series(1, $3) g RETURNING id`,
      [tenant.id, subject.id, n],
    );
    return { tenant, subject, recordIds: rows.map((r: { id: string }) => r.id) };
  }

  it("lets a revocation through after the shares already in", async () => {
    const { tenant, recordIds } = await tenantWithRecords(200);
    const operator = app.as(principals.operator());
    const admin = app.as(principals.tenantAdmin(tenant.id));
    const party = (
      await operator.gql(`mutation($i: RegisterThirdPartyInput!) { registerThirdParty(input: $i) { id } }`, {
        i: { name: `Party ${randomUUID()}`, role: "INDEPENDENT", country: "US" },
      })
    ).data!.registerThirdParty;
    const agreement = (
      await admin.gql(`mutation($i: CreateSharingAgreementInput!) { createSharingAgreement(input: $i) { id } }`, {
        i: { tenantId: tenant.id, thirdPartyId: party.id, feature: "Enrolment", direction: "OUTBOUND", dataCategories: ["DEVICE"], purposes: ["SUPPORT"] },
      })
    ).data!.createSharingAgreement;
    assert.equal((await admin.gql(`mutation($id: ID!) { grantSharingConsent(agreementId: $id) { id } }`, { id: agreement.id })).errors, undefined);
    const integration: Caller = app.as(principals.integration(tenant.id));
    const { acknowledgedAfterSent, acknowledgedAfterDone } = await race(
      () =>
        integration.gql(`mutation($i: ShareRecordsInput!) { shareRecords(input: $i) { id } }`, {
          i: { agreementId: agreement.id, recordIds, purpose: "SUPPORT" },
        }),
      () => admin.gql(`mutation($id: ID!) { revokeSharingConsent(agreementId: $id) { status } }`, { id: agreement.id }),
    );
    assert.equal(acknowledgedAfterDone, 0, "nothing is shared after the revocation answered");
    assert.ok(acknowledgedAfterSent <= 3 * WRITERS, `${acknowledgedAfterSent} shares sent after the revocation went through before it`);
  });

  it("lets an end of subscription through after the batches already in", async () => {
    const { tenant, subject } = await tenantWithRecords(1);
    const integration = app.as(principals.integration(tenant.id));
    const records = Array.from({ length: 200 }, (_, i) => ({ dataSubjectId: subject.id, category: "DEVICE", purposes: ["SUPPORT"], value: { i } }));
    const { acknowledgedAfterSent, acknowledgedAfterDone } = await race(
      () =>
        integration.gql(`mutation($i: RecordPersonalDataBatchInput!) { recordPersonalDataBatch(input: $i) { count } }`, {
          i: { tenantId: tenant.id, records },
        }),
      () => app.as(principals.operator()).gql(`mutation($t: ID!) { endSubscription(tenantId: $t) { id } }`, { t: tenant.id }),
    );
    assert.equal(acknowledgedAfterDone, 0, "nothing is written after the end answered");
    assert.ok(acknowledgedAfterSent <= 3 * WRITERS, `${acknowledgedAfterSent} batches sent after the end went through before it`);
    const [active] = await app.db.query(`SELECT count(*)::int AS n FROM personal_data_record WHERE tenant_id = $1 AND status = 'ACTIVE'`, [tenant.id]);
    assert.equal(active.n, 0, "every record written before the end is pending deletion");
  });
});
