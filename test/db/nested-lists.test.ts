import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type TestApp, roles, startTestApp } from "../helpers/app";
import { assertOk } from "../helpers/assertions";
import { consentedAgreement, createTenant, recordData, registerSubject } from "../helpers/factories";
import { isolatedDatabase } from "../helpers/isolated-db";
import { countStatements } from "../helpers/statements";

/**
 * A nested list costs the same number of statements whatever the number of parents above it:
 * each is read for all its parents at once (a DataLoader per request), never once per parent.
 * Counted at two page sizes of the parents; a database of its own, so the pages hold only ours.
 */
describe("nested lists: statements independent of how many parents", () => {
  let app: TestApp;
  let drop: () => Promise<void>;
  let as: ReturnType<typeof roles>;
  let tenant: { id: string };

  before(async () => {
    const database = await isolatedDatabase();
    drop = database.drop;
    app = await startTestApp({ databaseUrl: database.url });
    as = roles(app);
    tenant = await createTenant(app);
    // Six incidents, each notified to the tenant.
    for (let i = 0; i < 6; i++) {
      const incident = assertOk(
        await as.asOperator().gql(`mutation($input: ReportSecurityIncidentInput!) { reportSecurityIncident(input: $input) { id } }`, {
          input: {
            title: `Incident ${i}`,
            description: "x",
            severity: "LOW",
            detectedAt: new Date(Date.now() - 1000).toISOString(),
            affectedTenantIds: [tenant.id],
          },
        }),
      ).reportSecurityIncident;
      assertOk(await as.asOperator().gql(`mutation($id: ID!) { declareCustomerReportable(incidentId: $id) { id } }`, { id: incident.id }));
    }
    // Six agreements, each with a shared record that was then corrected (an open notice).
    const subject = await registerSubject(app, tenant.id);
    for (let i = 0; i < 6; i++) {
      const { agreement } = await consentedAgreement(app, tenant.id, { feature: `F${i}` });
      const record = await recordData(app, tenant.id, subject.id, { value: { n: i } });
      assertOk(
        await as.asIntegration(tenant.id).gql(`mutation($input: ShareRecordsInput!) { shareRecords(input: $input) { id } }`, {
          input: { agreementId: agreement.id, recordIds: [record.id], purpose: "SUPPORT" },
        }),
      );
      assertOk(
        await as.asIntegration(tenant.id).gql(`mutation($input: CorrectPersonalDataInput!) { correctPersonalData(input: $input) { id } }`, {
          input: { id: record.id, expectedVersion: 1, value: { n: i + 100 } },
        }),
      );
    }
  });
  after(async () => {
    await app.close();
    await drop();
  });

  const lists = [
    {
      name: "an incident's notifications and overdue",
      query: (n: number) => `{ breachIncidents(first: ${n}) { nodes { id overdue notifications { id } } } }`,
      as: () => as.asOperator(),
      count: (data: any) => data.breachIncidents.nodes.flatMap((i: any) => i.notifications).length,
    },
    {
      name: "an incident's notifications, as the tenant sees them",
      query: (n: number) => `{ breachIncidents(first: ${n}) { nodes { id overdue notifications { id } } } }`,
      as: () => as.asTenantAdmin(tenant.id),
      count: (data: any) => data.breachIncidents.nodes.flatMap((i: any) => i.notifications).length,
    },
    {
      name: "an agreement's open notices",
      query: (n: number) => `query { tenant(id: "${tenant.id}") { sharingAgreements(first: ${n}) { nodes { id openNotices { id } } } } }`,
      as: () => as.asTenantAdmin(tenant.id),
      count: (data: any) => data.tenant.sharingAgreements.nodes.flatMap((a: any) => a.openNotices).length,
    },
    {
      name: "a record's transfers",
      query: (n: number) => `query { tenant(id: "${tenant.id}") { personalDataRecords(first: ${n}) { nodes { id transfers { id } } } } }`,
      as: () => as.asTenantAdmin(tenant.id),
      count: (data: any) => data.tenant.personalDataRecords.nodes.flatMap((r: any) => r.transfers).length,
    },
  ];

  for (const list of lists) {
    it(`reads ${list.name} in as many statements for 2 parents as for 6`, async () => {
      const statements: number[] = [];
      for (const n of [2, 6]) {
        const { result, statements: sent } = await countStatements(() => list.as().gql(list.query(n)));
        assert.equal(list.count(assertOk(result)), n, `one item under each parent: ${JSON.stringify(result).slice(0, 600)}`);
        statements.push(sent.length);
      }
      assert.equal(statements[1], statements[0], `statements for 2 and 6 parents: ${statements.join(", ")}`);
    });
  }
});
