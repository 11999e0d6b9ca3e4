import type { DataSource } from "typeorm";
import type { Clock } from "./shared/clock";
import { Role } from "./shared/auth/role";
import { signToken, type TokenKeys } from "./shared/auth/jwt";
import { returning } from "./shared/db/database";

/** Fixed ids, so the printed development tokens stay valid across restarts. */
export const DEMO = {
  tenantA: { id: "7e4a0000-0000-4000-8000-00000000000a", name: "Contoso Devices", location: "EU", graceDays: 14, auditDays: 365 },
  tenantB: { id: "7e4a0000-0000-4000-8000-00000000000b", name: "Fabrikam Mobile", location: "US", graceDays: 30, auditDays: 180 },
  dataSubjectId: "7e4a0000-0000-4000-8000-0000000000a1",
} as const;

/** The registry of a device-management service: platform vendors, one subprocessor, one product that never receives data. */
const DEMO_THIRD_PARTIES = [
  {
    id: "7e4a0000-0000-4000-8000-000000000301",
    name: "Apple",
    role: "INDEPENDENT",
    country: "US",
    description: "Apple Business Manager and the Device Enrollment Program.",
    prohibited: false,
  },
  {
    id: "7e4a0000-0000-4000-8000-000000000302",
    name: "Google",
    role: "INDEPENDENT",
    country: "US",
    description: "Android Enterprise and zero-touch enrolment.",
    prohibited: false,
  },
  {
    id: "7e4a0000-0000-4000-8000-000000000303",
    name: "Jamf",
    role: "INDEPENDENT",
    country: "US",
    description: "Jamf Pro, when a tenant connects it.",
    prohibited: false,
  },
  {
    id: "7e4a0000-0000-4000-8000-000000000304",
    name: "Northwind Support Desk",
    role: "AGENT",
    country: "NL",
    description: "Second-line support on the service's behalf (subprocessor).",
    prohibited: false,
  },
  {
    id: "7e4a0000-0000-4000-8000-000000000305",
    name: "Contoso On-Premises Connector",
    role: "INDEPENDENT",
    country: null,
    description: "Software the customer runs on its own servers; it never receives data.",
    prohibited: true,
  },
];

/** Invented people and devices: demo values that look real enough to query. */
const DEMO_SUBJECTS = [
  { id: DEMO.dataSubjectId, tenantId: DEMO.tenantA.id, externalId: "aad-object-0001", displayName: "Ada Demo" },
  { id: "7e4a0000-0000-4000-8000-0000000000a2", tenantId: DEMO.tenantA.id, externalId: "aad-object-0002", displayName: "Bram Demo" },
  { id: "7e4a0000-0000-4000-8000-0000000000b1", tenantId: DEMO.tenantB.id, externalId: "okta-user-0001", displayName: "Casey Demo" },
];
const DEMO_RECORDS = [
  { subject: 0, category: "CONTACT", purposes: ["SERVICE_OPERATION", "SUPPORT"], value: { email: "ada@contoso.example" } },
  { subject: 0, category: "DEVICE", purposes: ["SERVICE_OPERATION", "SECURITY"], value: { serialNumber: "C02DEMO0001", model: "Laptop 14" } },
  { subject: 0, category: "APP_INVENTORY", purposes: ["SERVICE_OPERATION"], value: { apps: ["Mail", "Browser"] } },
  { subject: 1, category: "CONTACT", purposes: ["SUPPORT"], value: { email: "bram@contoso.example" } },
  { subject: 2, category: "DEVICE", purposes: ["SERVICE_OPERATION"], value: { serialNumber: "FAB-DEMO-0001", model: "Phone 12" } },
];

/**
 * A small demo for a fresh development database: two tenants in different geographies, with
 * a few data subjects and records (invented), and a third-party registry.
 * Runs only when the database holds no tenant at all, so it never mixes with real data.
 */
export async function seedDemoIfEmpty(db: DataSource, clock: Clock): Promise<boolean> {
  const [{ count }] = await db.query("SELECT count(*)::int AS count FROM tenant");
  if (count > 0) return false;
  const now = clock.now();
  for (const t of [DEMO.tenantA, DEMO.tenantB]) {
    await db.query(
      `INSERT INTO tenant (id, name, storage_location_code, deletion_grace_days, audit_log_retention_days, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $6)`,
      [t.id, t.name, t.location, t.graceDays, t.auditDays, now],
    );
  }
  for (const p of DEMO_THIRD_PARTIES) {
    await db.query(
      `INSERT INTO third_party (id, name, role, data_sharing_prohibited, country, description, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING`,
      [p.id, p.name, p.role, p.prohibited, p.country, p.description, now],
    );
  }
  // The subprocessor is listed the way an operator would list it: version 1 of the list.
  const [agent] = DEMO_THIRD_PARTIES.filter((p) => p.role === "AGENT");
  const [{ version }] = await returning<{ version: number }>(
    db.manager,
    `UPDATE subprocessor_list SET version = version + 1, updated_at = $1 WHERE id = 1 RETURNING version`,
    [now],
  );
  await db.query(`INSERT INTO subprocessor_list_change (version, third_party_id, listed, changed_at, changed_by) VALUES ($1, $2, true, $3, 'demo')`, [
    version,
    agent.id,
    now,
  ]);
  await db.query(`UPDATE third_party SET listed_as_subprocessor = true WHERE id = $1`, [agent.id]);
  for (const s of DEMO_SUBJECTS) {
    await db.query(`INSERT INTO data_subject (id, tenant_id, external_id, display_name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`, [
      s.id,
      s.tenantId,
      s.externalId,
      s.displayName,
      now,
    ]);
  }
  for (const [i, r] of DEMO_RECORDS.entries()) {
    const subject = DEMO_SUBJECTS[r.subject];
    const tenant = subject.tenantId === DEMO.tenantA.id ? DEMO.tenantA : DEMO.tenantB;
    await db.query(
      `INSERT INTO personal_data_record (id, tenant_id, data_subject_id, category, purposes, storage_location_code, value, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
      [
        `7e4a0000-0000-4000-8000-0000000001${String(i).padStart(2, "0")}`,
        subject.tenantId,
        subject.id,
        r.category,
        r.purposes,
        tenant.location,
        JSON.stringify(r.value),
        new Date(now.getTime() + i),
      ],
    );
  }
  return true;
}

/** One development token per role, for the demo tenant when it exists (else the oldest tenant). */
export async function developmentTokens(db: DataSource, keys: TokenKeys): Promise<Array<{ role: Role; token: string; tenantId?: string }>> {
  const rows: Array<{ id: string }> = await db.query("SELECT id FROM tenant ORDER BY (id = $1) DESC, created_at, id LIMIT 1", [DEMO.tenantA.id]);
  const tenantId = rows[0]?.id;
  const tokens: Array<{ role: Role; token: string; tenantId?: string }> = [];
  for (const role of Object.values(Role)) {
    const tenantRole = role !== Role.OPERATOR && role !== Role.PARTNER;
    if (tenantRole && !tenantId) continue;
    const token = await signToken(
      {
        subject: `dev-${role.toLowerCase().replace(/_/g, "-")}`,
        role,
        tenantId: tenantRole ? tenantId : undefined,
        dataSubjectId: role === Role.DATA_SUBJECT ? DEMO.dataSubjectId : undefined,
        expiresIn: "24h",
      },
      keys,
    );
    tokens.push({ role, token, tenantId: tenantRole ? tenantId : undefined });
  }
  return tokens;
}
