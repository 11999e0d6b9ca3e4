import type { Pool } from "pg";

export interface DatasetSize {
  tenants: number;
  subjects: number;
  records: number;
}

/** BENCH_SCALE 1 (the default) is 200 tenants, 20,000 subjects and 200,000 records; 0.1 is a tenth. */
export function datasetSize(scale: number): DatasetSize {
  const tenants = Math.max(20, Math.round(200 * scale));
  return { tenants, subjects: tenants * 100, records: tenants * 1000 };
}

const CATEGORIES = ["IDENTITY", "CONTACT", "DEVICE", "APP_INVENTORY", "LOCATION", "NETWORK"];

/** Where the dataset goes: control's directory and registry, and each region's tenants with their data. */
export interface DatasetTarget {
  control: Pool;
  regions: ReadonlyArray<{ code: string; pool: Pool }>;
}

/**
 * A fixed dataset, the same on every run: ids are md5 hashes of their position and every
 * timestamp is an offset from one fixed instant, so keyset order is the same for all readers.
 * Per tenant: subjects and records evenly spread, one record in ten pending deletion, every
 * record usable for SERVICE_OPERATION; one agreement with a listed agent and five transfers.
 * Tenant t goes to region t mod (number of regions): its row in control's directory and in its
 * region, its subjects, records, agreement and transfers in its region.
 */
export async function seedDataset(target: DatasetTarget, size: DatasetSize): Promise<void> {
  const epoch = "2026-01-01T00:00:00Z";
  const n = target.regions.length;
  const codes = target.regions.map((r) => r.code);
  const tenantRows = (where: string) =>
    `INSERT INTO tenant (id, name, storage_location_code, created_at, updated_at)
     SELECT md5('tenant' || g)::uuid, 'Tenant ' || lpad(g::text, 4, '0'), ($3::text[])[1 + g % ${n}],
            $1::timestamptz + g * interval '1 second', $1::timestamptz
       FROM generate_series(1, $2::int) g WHERE ${where}`;
  await target.control.query(tenantRows("true"), [epoch, size.tenants, codes]);
  const party = `INSERT INTO third_party (id, name, role, listed_as_subprocessor, country, created_at, updated_at)
     VALUES (md5('agent')::uuid, 'Bench Support Desk', 'AGENT', true, 'NL', $1, $1)`;
  await target.control.query(party, [epoch]);
  await target.control.query(`UPDATE subprocessor_list SET version = 1, updated_at = $1`, [epoch]);
  await target.control.query(
    `INSERT INTO subprocessor_list_change (version, third_party_id, listed, changed_at, changed_by) VALUES (1, md5('agent')::uuid, true, $1, 'bench')`,
    [epoch],
  );
  for (const [i, region] of target.regions.entries()) {
    await region.pool.query(tenantRows(`g % ${n} = ${i}`), [epoch, size.tenants, codes]);
    await region.pool.query(party, [epoch]);
    await seedRegion(region.pool, `t % ${n} = ${i}`, size, epoch, region.code);
  }
  for (const pool of [target.control, ...target.regions.map((r) => r.pool)]) await pool.query(`VACUUM ANALYZE`);
}

/** The subjects, records, agreements and transfers of the tenants t for which `where` holds. */
async function seedRegion(pool: Pool, where: string, size: DatasetSize, epoch: string, code: string): Promise<void> {
  const perTenantSubjects = Math.floor(size.subjects / size.tenants);
  const perTenantRecords = Math.floor(size.records / size.tenants);
  await pool.query(
    `INSERT INTO data_subject (id, tenant_id, external_id, display_name, created_at, updated_at)
     SELECT md5('subject' || t || '/' || s)::uuid, md5('tenant' || t)::uuid, 'user-' || t || '-' || s, 'Person ' || s,
            $1::timestamptz + interval '1 day' + s * interval '1 second', $1::timestamptz
       FROM generate_series(1, $2::int) t, generate_series(1, $3::int) s WHERE ${where}`,
    [epoch, size.tenants, perTenantSubjects],
  );
  await pool.query(
    `INSERT INTO personal_data_record (id, tenant_id, data_subject_id, category, purposes, storage_location_code, value, status,
                                       deletion_reason, deletion_requested_at, purge_due_at, created_at, updated_at)
     SELECT md5('record' || t || '/' || r)::uuid, md5('tenant' || t)::uuid, md5('subject' || t || '/' || (1 + r % $3::int))::uuid,
            ($5::text[])[1 + r % 6], '{SERVICE_OPERATION,SUPPORT}', $6,
            jsonb_build_object('serialNumber', 'SN-' || t || '-' || r, 'model', 'Laptop 14', 'compliant', r % 7 <> 0),
            CASE WHEN r % 10 = 0 THEN 'PENDING_DELETION' ELSE 'ACTIVE' END,
            CASE WHEN r % 10 = 0 THEN 'ACTIVE_DELETION' END,
            CASE WHEN r % 10 = 0 THEN $1::timestamptz + interval '30 days' END,
            CASE WHEN r % 10 = 0 THEN $1::timestamptz + interval '3650 days' END,
            $1::timestamptz + interval '2 days' + r * interval '1 second', $1::timestamptz + interval '2 days'
       FROM generate_series(1, $2::int) t, generate_series(1, $4::int) r WHERE ${where}`,
    [epoch, size.tenants, perTenantSubjects, perTenantRecords, CATEGORIES, code],
  );
  await pool.query(
    `INSERT INTO sharing_agreement (id, tenant_id, third_party_id, feature, direction, data_categories, purposes, status, created_at, updated_at)
     SELECT md5('agreement' || t)::uuid, md5('tenant' || t)::uuid, md5('agent')::uuid, 'Remote support', 'OUTBOUND',
            '{DEVICE,CONTACT}', '{SUPPORT}', 'ACTIVE', $1::timestamptz + interval '3 days', $1::timestamptz + interval '3 days'
       FROM generate_series(1, $2::int) t WHERE ${where}`,
    [epoch, size.tenants],
  );
  await pool.query(
    `INSERT INTO data_transfer (id, tenant_id, agreement_id, purpose, record_ids, categories, created_at)
     SELECT md5('transfer' || t || '/' || x)::uuid, md5('tenant' || t)::uuid, md5('agreement' || t)::uuid, 'SUPPORT',
            ARRAY(SELECT md5('record' || t || '/' || (x * 6 + 2 + k * 30))::uuid FROM generate_series(0, 9) k), '{DEVICE}',
            $1::timestamptz + interval '4 days' + x * interval '1 minute'
       FROM generate_series(1, $2::int) t, generate_series(1, 5) x WHERE ${where}`,
    [epoch, size.tenants],
  );
}

/** The ids the readers ask for: the tenants in the order the dashboard lists them. */
export async function tenantIds(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query(`SELECT id FROM tenant ORDER BY created_at, id`);
  return rows.map((r: { id: string }) => r.id);
}
