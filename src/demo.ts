import type { Topology } from "./shared/db/topology";
import type { Clock } from "./shared/clock";
import { Role } from "./shared/auth/role";
import { signToken, type TokenKeys } from "./shared/auth/jwt";
import { DataSubjectEntity } from "./modules/data-subject/data-subject.entity";
import { DataSubjectStatus } from "./modules/data-subject/data-subject.status";
import { insertSubject } from "./modules/data-subject/data-subject.store";
import { insertRecords } from "./modules/personal-data/personal-data.store";
import { SealedValues } from "./modules/personal-data/sealed-values";
import { SealedIdentities } from "./modules/data-subject/sealed-identity";
import type { KeyRing } from "./modules/keys/key-ring";
import { TenantEntity } from "./modules/tenant/tenant.entity";
import { SubscriptionStatus } from "./modules/tenant/tenant.policy";
import { countTenants, insertTenant, preferredTenantId } from "./modules/tenant/tenant.store";
import { ThirdPartyEntity } from "./modules/third-party/third-party.entity";
import { copyParties, insertParty, partiesByIds, recordListingChange } from "./modules/third-party/third-party.store";

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
export async function seedDemoIfEmpty(topology: Topology, clock: Clock, keys: KeyRing): Promise<boolean> {
  // Control: the directory and the registry. Each tenant's region: its row and its people.
  const manager = topology.control.owner.manager;
  if ((await countTenants(manager, { all: true })) > 0) return false;
  const regionOf = (location: string) => {
    const region = topology.database(location);
    if (!region) throw new Error(`the demo needs the ${location} region database`);
    return region.owner.manager;
  };
  const now = clock.now();
  for (const t of [DEMO.tenantA, DEMO.tenantB]) {
    const row = Object.assign(new TenantEntity(), {
      id: t.id,
      name: t.name,
      storageLocationCode: t.location,
      subscriptionStatus: SubscriptionStatus.ACTIVE,
      subscriptionEndedAt: null,
      dataPurgeDueAt: null,
      deletionGraceDays: t.graceDays,
      auditLogRetentionDays: t.auditDays,
      createdAt: now,
      updatedAt: now,
      version: 1,
    });
    await insertTenant(regionOf(t.location), row);
    await insertTenant(manager, row);
  }
  const registered = new Set(
    (
      await partiesByIds(
        manager,
        DEMO_THIRD_PARTIES.map((p) => p.id),
      )
    ).map((p) => p.id),
  );
  for (const p of DEMO_THIRD_PARTIES.filter((p) => !registered.has(p.id))) {
    await insertParty(
      manager,
      Object.assign(new ThirdPartyEntity(), {
        id: p.id,
        name: p.name,
        role: p.role,
        listedAsSubprocessor: false,
        dataSharingProhibited: p.prohibited,
        country: p.country,
        description: p.description,
        createdAt: now,
        updatedAt: now,
      }),
    );
  }
  // The subprocessor is listed the way an operator would list it: a new version of the list.
  const [agent] = DEMO_THIRD_PARTIES.filter((p) => p.role === "AGENT");
  await recordListingChange(manager, agent.id, true, now, "demo");
  for (const t of [DEMO.tenantA, DEMO.tenantB]) await copyParties(manager, regionOf(t.location));
  const locationOf = (tenantId: string) => [DEMO.tenantA, DEMO.tenantB].find((t) => t.id === tenantId)!.location;
  const identities = new SealedIdentities(keys);
  for (const s of DEMO_SUBJECTS) {
    const location = locationOf(s.tenantId);
    await insertSubject(
      regionOf(location),
      Object.assign(new DataSubjectEntity(), {
        id: s.id,
        tenantId: s.tenantId,
        externalId: null,
        displayName: null,
        ...(await identities.seal(topology.database(location)!.keystore!, s, now)),
        status: DataSubjectStatus.ACTIVE,
        deletedAt: null,
        purgeDueAt: null,
        createdAt: now,
        updatedAt: now,
      }),
    );
  }
  for (const tenant of [DEMO.tenantA, DEMO.tenantB]) {
    const records = DEMO_RECORDS.map((r, i) => ({
      r,
      id: `7e4a0000-0000-4000-8000-0000000001${String(i).padStart(2, "0")}`,
      subject: DEMO_SUBJECTS[r.subject],
    })).filter((x) => x.subject.tenantId === tenant.id);
    // Sealed as every value is, each under a key of its own in the region's key store.
    const sealed = await new SealedValues(keys).seal(
      topology.database(tenant.location)!.keystore!,
      records.map(({ r, id, subject }) => ({ tenantId: tenant.id, subjectId: subject.id, recordId: id, version: 1, value: r.value })),
      now,
    );
    await insertRecords(
      regionOf(tenant.location),
      tenant.id,
      tenant.location,
      now,
      records.map(({ r, id, subject }, i) => ({
        id,
        dataSubjectId: subject.id,
        category: r.category,
        purposes: r.purposes,
        sourceThirdPartyId: null,
        sealed: sealed[i],
      })),
    );
  }
  return true;
}

/** One development token per role, for the demo tenant when it exists (else the oldest tenant). */
export async function developmentTokens(topology: Topology, keys: TokenKeys): Promise<Array<{ role: Role; token: string; tenantId?: string }>> {
  const tenantId = (await preferredTenantId(topology.control.owner.manager, DEMO.tenantA.id)) ?? undefined;
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
