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
  before(async () => {
    // Five more subjects of the tenant, each with one record; five more tenants, each with a
    // subject, a record and an agreement.
    for (let i = 0; i < 5; i++) {
      const subject = await registerSubject(app, tenant.id);
      await recordData(app, tenant.id, subject.id, { value: { s: i } });
      const other = await createTenant(app);
      await recordData(app, other.id, (await registerSubject(app, other.id)).id, { value: { t: i } });
      await consentedAgreement(app, other.id, { feature: `G${i}` });
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
    {
      name: "a subject's records",
      query: (n: number) => `query { tenant(id: "${tenant.id}") { dataSubjects(first: ${n}) { nodes { id records(first: 1) { totalCount nodes { id } } } } } }`,
      as: () => as.asTenantAdmin(tenant.id),
      count: (data: any) => data.tenant.dataSubjects.nodes.filter((s: any) => s.records.nodes.length === 1 && s.records.totalCount >= 1).length,
    },
    {
      name: "an agreement's transfers",
      query: (n: number) => `query { tenant(id: "${tenant.id}") { sharingAgreements(first: ${n}) { nodes { id transfers { totalCount nodes { id } } } } } }`,
      as: () => as.asTenantAdmin(tenant.id),
      count: (data: any) => data.tenant.sharingAgreements.nodes.flatMap((a: any) => a.transfers.nodes).length,
    },
    ...(
      [
        ["subjects", "dataSubjects(first: 1) { totalCount nodes { id } }", (t: any) => t.dataSubjects.nodes.length === 1 && t.dataSubjects.totalCount >= 1],
        ["agreements", "sharingAgreements(first: 1) { totalCount nodes { id } }", (t: any) => t.sharingAgreements.nodes.length === 1],
        ["audit log", "auditLog(first: 1) { totalCount nodes { id } }", (t: any) => t.auditLog.nodes.length === 1 && t.auditLog.totalCount >= 1],
        ["compliance report", "complianceReport { activeRecords }", (t: any) => t.complianceReport.activeRecords >= 1],
        ["audit checkpoints", "auditCheckpoints(first: 1) { chainSeq }", (t: any) => Array.isArray(t.auditCheckpoints)],
      ] as const
    ).map(([what, selection, holds]) => ({
      name: `a tenant's ${what}`,
      query: (n: number) => `{ tenants(first: ${n}) { nodes { id ${selection} } } }`,
      as: () => as.asOperator(),
      count: (data: any) => data.tenants.nodes.filter(holds).length,
    })),
    {
      name: "an incident's affected tenants",
      query: (n: number) => `{ breachIncidents(first: ${n}) { nodes { id affectedTenants { id } } } }`,
      as: () => as.asOperator(),
      count: (data: any) => data.breachIncidents.nodes.filter((i: any) => i.affectedTenants.length === 1).length,
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

  it("answers for many parents at once exactly as for each parent alone", async () => {
    const page = "(first: 2) { totalCount nodes { id } pageInfo { hasNextPage endCursor } }";
    const fields = `dataSubjects${page} sharingAgreements${page} auditLog${page} complianceReport { activeRecords overdueDeletions residencyViolations }`;
    const many = assertOk(await as.asOperator().gql(`{ tenants(first: 6) { nodes { id ${fields} } } }`)).tenants.nodes;
    assert.equal(many.length, 6);
    for (const t of many) {
      const alone = assertOk(await as.asOperator().gql(`query($id: ID!) { tenant(id: $id) { id ${fields} } }`, { id: t.id })).tenant;
      assert.deepEqual(JSON.parse(JSON.stringify(t)), JSON.parse(JSON.stringify(alone)), `tenant ${t.id}`);
    }
    const nested = `records${page}`;
    const subjects = assertOk(
      await as.asTenantAdmin(tenant.id).gql(`query($id: ID!) { tenant(id: $id) { dataSubjects(first: 6) { nodes { id ${nested} } } } }`, { id: tenant.id }),
    ).tenant.dataSubjects.nodes;
    assert.equal(subjects.length, 6);
    for (const s of subjects) {
      const alone = assertOk(await as.asTenantAdmin(tenant.id).gql(`query($id: ID!) { dataSubject(id: $id) { id ${nested} } }`, { id: s.id })).dataSubject;
      assert.deepEqual(JSON.parse(JSON.stringify(s)), JSON.parse(JSON.stringify(alone)), `subject ${s.id}`);
    }
    // A cursor carried into a batch narrows each parent's page as it narrows one.
    const first = subjects.find((s: any) => s.records.totalCount > 1);
    if (first) {
      const after = first.records.pageInfo.endCursor;
      const next = assertOk(
        await as
          .asTenantAdmin(tenant.id)
          .gql(
            `query($id: ID!, $after: String) { tenant(id: $id) { dataSubjects(first: 6) { nodes { id records(first: 2, after: $after) { nodes { id } } } } } }`,
            {
              id: tenant.id,
              after,
            },
          ),
      ).tenant.dataSubjects.nodes.find((s: any) => s.id === first.id);
      assert.ok(next.records.nodes.every((r: any) => !first.records.nodes.some((seen: any) => seen.id === r.id)));
    }
  });
});
