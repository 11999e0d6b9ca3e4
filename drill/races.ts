import { randomUUID } from "node:crypto";
import type { Pool } from "pg";
import { BATCH, batchVariables, type DrillResult, drillTenant, operatorToken, post } from "./lib";

/** How big the races are: CI runs them small (bounded), `--full` at the scale they were reported at. */
export interface RaceSize {
  deletionRounds: number;
  /** Records per share and per batch in the stop races. */
  recordsPerWrite: number;
  writers: number;
  /** Whether the time a revocation or an end takes is judged (only at scale, never in CI). */
  judgeLatency: boolean;
}

/** Within this, a revocation or an end of subscription takes effect under any write load. */
export const STOP_BOUND_MS = 1000;

const RECORD = `mutation($input: RecordPersonalDataInput!) { recordPersonalData(input: $input) { id } }`;
const REGISTER = `mutation($input: RegisterDataSubjectInput!) { registerDataSubject(input: $input) { id } }`;
const SHARE = `mutation($input: ShareRecordsInput!) { shareRecords(input: $input) { id } }`;

/**
 * Writers loop until `change` has answered; returns how long `change` took and how many writes
 * sent after its answer were still acknowledged (must be none).
 */
async function race(writers: number, write: () => Promise<{ ok: boolean }>, change: () => Promise<{ ok: boolean; body: unknown }>) {
  let changed = false;
  let afterAcknowledged = 0;
  let writes = 0;
  const warm = Array.from({ length: writers }, () => 0);
  const loops = Array.from({ length: writers }, async (_, w) => {
    // Bounded: each writer stops once the change has answered, or after 10,000 writes.
    for (let i = 0; i < 10_000 && !changed; i++) {
      const sentAfter = changed;
      const result = await write();
      writes += 1;
      if (result.ok) warm[w] += 1;
      if (result.ok && sentAfter) afterAcknowledged += 1;
    }
  });
  while (warm.some((n) => n < 2)) await new Promise((ok) => setTimeout(ok, 10));
  const started = performance.now();
  const result = await change();
  const ms = performance.now() - started;
  changed = true;
  await Promise.all(loops);
  // One more write after the answer: it must be refused.
  const late = await write();
  return { ms, ok: result.ok, body: result.body, afterAcknowledged: afterAcknowledged + (late.ok ? 1 : 0), writes: writes + 1 };
}

/**
 * The races an outside red team found, against a running API over HTTP: a subject deleted while
 * its records are written; a revocation and an end of subscription under a stream of writes.
 * Checked in the database afterwards, as the owner.
 */
export async function races(url: string, db: { pool: Pool; eu: Pool }, size: RaceSize): Promise<DrillResult> {
  const failures: string[] = [];
  let operations = 0;
  let acknowledged = 0;
  let errors = 0;
  const operator = await operatorToken();

  // 1. Deletion against writers: every record either committed before the deletion (and was
  // deleted by it) or was refused; none stays ACTIVE under a DELETED subject.
  const tenant = await drillTenant(db, "Races deletion");
  for (let round = 0; round < size.deletionRounds; round++) {
    const subject = await post(url, tenant.admin, REGISTER, { input: { tenantId: tenant.tenantId, externalId: `race-${round}-${randomUUID().slice(0, 8)}` } });
    if (!subject.ok) {
      errors += 1;
      continue;
    }
    const id = subject.body.data.registerDataSubject.id;
    const input = { tenantId: tenant.tenantId, dataSubjectId: id, category: "CONTACT", purposes: ["SUPPORT"], value: { round } };
    const results = await Promise.all([
      ...Array.from({ length: size.writers }, () => post(url, tenant.token, RECORD, { input })),
      post(url, tenant.admin, `mutation($id: ID!) { deleteDataSubject(id: $id) { id } }`, { id }),
    ]);
    operations += results.length;
    acknowledged += results.filter((r) => r.ok).length;
    errors += results.filter((r) => !r.ok && r.body?.errors?.[0]?.extensions?.code !== "INVALID_STATE").length;
  }
  const { rows: stuck } = await db.eu.query(
    `SELECT count(*)::int AS n FROM personal_data_record r JOIN data_subject s ON s.id = r.data_subject_id
      WHERE r.tenant_id = $1 AND r.status = 'ACTIVE' AND s.status = 'DELETED'`,
    [tenant.tenantId],
  );
  if (stuck[0].n > 0) failures.push(`${stuck[0].n} ACTIVE records under DELETED subjects`);

  // 2. Revocation under shares of many records each.
  const sharing = await drillTenant(db, "Races sharing");
  const party = await post(
    url,
    operator,
    `mutation { registerThirdParty(input: { name: "Race vendor ${randomUUID().slice(0, 8)}", role: INDEPENDENT }) { id } }`,
  );
  const agreement = await post(url, sharing.admin, `mutation($input: CreateSharingAgreementInput!) { createSharingAgreement(input: $input) { id } }`, {
    input: {
      tenantId: sharing.tenantId,
      thirdPartyId: party.body.data.registerThirdParty.id,
      feature: "Race",
      direction: "OUTBOUND",
      dataCategories: ["DEVICE"],
      purposes: ["SERVICE_OPERATION"],
    },
  });
  const agreementId = agreement.body.data.createSharingAgreement.id;
  await post(url, sharing.admin, `mutation($id: ID!) { grantSharingConsent(agreementId: $id) { id } }`, { id: agreementId });
  const batch = await post(url, sharing.token, BATCH, batchVariables(sharing, 0, size.recordsPerWrite, randomUUID()));
  if (!batch.ok) failures.push(`could not seed records to share: ${JSON.stringify(batch.body).slice(0, 200)}`);
  const { rows: toShare } = await db.eu.query(`SELECT id FROM personal_data_record WHERE tenant_id = $1`, [sharing.tenantId]);
  const recordIds = toShare.map((r: { id: string }) => r.id);
  const revoke = await race(
    size.writers,
    () => post(url, sharing.token, SHARE, { input: { agreementId, recordIds, purpose: "SERVICE_OPERATION" } }),
    () => post(url, sharing.admin, `mutation($id: ID!) { revokeSharingConsent(agreementId: $id) { id } }`, { id: agreementId }),
  );
  operations += revoke.writes + 1;
  if (!revoke.ok) failures.push(`the revocation failed: ${JSON.stringify(revoke.body).slice(0, 200)}`);
  if (revoke.afterAcknowledged) failures.push(`${revoke.afterAcknowledged} shares acknowledged after the revocation answered`);
  const { rows: late } = await db.eu.query(
    `SELECT count(*)::int AS n FROM data_transfer t JOIN sharing_agreement a ON a.id = t.agreement_id WHERE a.id = $1 AND t.created_at > a.revoked_at`,
    [agreementId],
  );
  if (late[0].n) failures.push(`${late[0].n} transfers made after the revocation`);

  // 3. End of subscription under batch writes.
  const ending = await drillTenant(db, "Races end");
  let n = 1;
  const end = await race(
    size.writers,
    () => post(url, ending.token, BATCH, batchVariables(ending, n++, size.recordsPerWrite, randomUUID())),
    () => post(url, operator, `mutation($id: ID!) { endSubscription(tenantId: $id) { id } }`, { id: ending.tenantId }),
  );
  operations += end.writes + 1;
  if (!end.ok) failures.push(`the end of subscription failed: ${JSON.stringify(end.body).slice(0, 200)}`);
  if (end.afterAcknowledged) failures.push(`${end.afterAcknowledged} batches acknowledged after the end answered`);
  const { rows: active } = await db.eu.query(`SELECT count(*)::int AS n FROM personal_data_record WHERE tenant_id = $1 AND status = 'ACTIVE'`, [
    ending.tenantId,
  ]);
  if (active[0].n) failures.push(`${active[0].n} records still ACTIVE after the end`);

  if (size.judgeLatency) {
    if (revoke.ms > STOP_BOUND_MS)
      failures.push(`the revocation took ${Math.round(revoke.ms)} ms under ${size.writers} share loops (bound ${STOP_BOUND_MS} ms)`);
    if (end.ms > STOP_BOUND_MS)
      failures.push(`the end of subscription took ${Math.round(end.ms)} ms under ${size.writers} batch loops (bound ${STOP_BOUND_MS} ms)`);
  }
  const figures = `revoke ${Math.round(revoke.ms)} ms, end ${Math.round(end.ms)} ms`;
  return { drill: `races ×${size.writers} (${figures})`, operations, acknowledged, lost: 0, duplicated: 0, errors, recoverySeconds: null, failures };
}
