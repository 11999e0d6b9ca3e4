import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type TestApp, principals, startTestApp } from "../helpers/app";
import { RECORD, createTenant, registerSubject } from "../helpers/factories";

const ROUNDS = Number(process.env.DELETION_RACE_ROUNDS ?? 20);
const WRITERS = 4;

/**
 * A subject's deletion racing writes about it: each write either commits before the deletion
 * (and the deletion takes its record) or is refused; no record stays ACTIVE under a DELETED
 * subject, where no purge would ever reach it.
 */
describe("records written while their subject is deleted", () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ poolSize: WRITERS + 2 });
  });
  after(() => app.close());

  it(`leave no ACTIVE record under a DELETED subject (${ROUNDS} rounds of a deletion against ${WRITERS} writers)`, async () => {
    const tenant = await createTenant(app);
    const integration = app.as(principals.integration(tenant.id));
    const admin = app.as(principals.tenantAdmin(tenant.id));
    const outcomes = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const subject = await registerSubject(app, tenant.id);
      const write = () =>
        integration.gql(RECORD, {
          input: { tenantId: tenant.id, dataSubjectId: subject.id, category: "CONTACT", purposes: ["SUPPORT"], value: { n: randomUUID() } },
        });
      const results = await Promise.all([
        ...Array.from({ length: WRITERS }, write),
        admin.gql(`mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, { id: subject.id }),
      ]);
      for (const result of results.slice(0, WRITERS)) {
        const outcome = result.errors ? result.errors[0].extensions.code : "written";
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      assert.equal(results[WRITERS].errors, undefined, JSON.stringify(results[WRITERS].errors));
      const stuck = await app.db.query(`SELECT count(*)::int AS n FROM personal_data_record WHERE data_subject_id = $1 AND status = 'ACTIVE'`, [subject.id]);
      assert.equal(stuck[0].n, 0, `round ${round}: ${stuck[0].n} ACTIVE records under the deleted subject (outcomes so far ${JSON.stringify([...outcomes])})`);
    }
    assert.deepEqual(
      [...outcomes.keys()].filter((k) => k !== "written" && k !== "INVALID_STATE"),
      [],
      JSON.stringify([...outcomes]),
    );
  });

  it("are counted as overdue by the compliance report once the subject's purge is due, and swept by deleting again", async () => {
    const tenant = await createTenant(app);
    const subject = await registerSubject(app, tenant.id);
    const admin = app.as(principals.tenantAdmin(tenant.id));
    assert.equal((await admin.gql(`mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, { id: subject.id })).errors, undefined);
    // What the race used to leave behind (data written before the fix): a live record under a deleted subject, past its purge date.
    await app.db.query(
      `INSERT INTO personal_data_record (id, tenant_id, data_subject_id, category, purposes, storage_location_code, value, status, created_at, updated_at)
       VALUES (gen_random_uuid(), $1, $2, 'CONTACT', '{SUPPORT}', 'EU', '{}', 'ACTIVE', now(), now())`,
      [tenant.id, subject.id],
    );
    await app.db.query(`UPDATE data_subject SET purge_due_at = now() - interval '1 day' WHERE id = $1`, [subject.id]);
    const report = async () =>
      (await app.as(principals.auditor(tenant.id)).gql(`query($t: ID!) { tenant(id: $t) { complianceReport { overdueDeletions } } }`, { t: tenant.id })).data!
        .tenant.complianceReport.overdueDeletions;
    assert.equal(await report(), 1, "the stuck record is overdue");
    const again = await admin.gql(`mutation($id: ID!) { deleteDataSubject(id: $id) { id status } }`, { id: subject.id });
    assert.equal(again.errors, undefined, JSON.stringify(again.errors));
    const [row] = await app.db.query(`SELECT status, purge_due_at <= now() AS due FROM personal_data_record WHERE data_subject_id = $1`, [subject.id]);
    assert.deepEqual({ ...row }, { status: "PENDING_DELETION", due: true }, "deleting again takes the straggler, due with its subject");
    const [entry] = await app.db.query(
      `SELECT details FROM audit_log WHERE target_id = $1 AND action = 'DATA_SUBJECT_DELETED' ORDER BY chain_seq DESC LIMIT 1`,
      [subject.id],
    );
    assert.equal(entry.details.recordsDeleted, 1);
  });
});
