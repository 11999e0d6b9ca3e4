import type { DataSource } from "typeorm";
import type { Clock } from "./shared/clock";
import { Role } from "./shared/auth/role";
import { signToken } from "./shared/auth/jwt";

/** Fixed ids, so the printed development tokens stay valid across restarts. */
export const DEMO = {
  tenantA: { id: "7e4a0000-0000-4000-8000-00000000000a", name: "Contoso Devices", location: "EU", graceDays: 14, auditDays: 365 },
  tenantB: { id: "7e4a0000-0000-4000-8000-00000000000b", name: "Fabrikam Mobile", location: "US", graceDays: 30, auditDays: 180 },
  dataSubjectId: "7e4a0000-0000-4000-8000-0000000000a1",
} as const;

/**
 * A small demo for a fresh development database: two tenants in different geographies.
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
  return true;
}

/** One development token per role, for the demo tenant when it exists (else the oldest tenant). */
export async function developmentTokens(db: DataSource, secret: string): Promise<Array<{ role: Role; token: string; tenantId?: string }>> {
  const rows: Array<{ id: string }> = await db.query(
    "SELECT id FROM tenant ORDER BY (id = $1) DESC, created_at, id LIMIT 1",
    [DEMO.tenantA.id],
  );
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
      secret,
    );
    tokens.push({ role, token, tenantId: tenantRole ? tenantId : undefined });
  }
  return tokens;
}
