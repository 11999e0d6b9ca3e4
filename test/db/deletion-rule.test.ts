import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Client } from "pg";
import { suiteDatabaseUrl } from "../helpers/suite-db";
import { ACTIVELY_DELETABLE_SQL, isActivelyDeletable } from "../../src/modules/personal-data/deletion-policy";

describe("which records an active deletion takes: one rule, in SQL and in TypeScript", () => {
  // Compared as a WHERE clause uses it: NULL (a pending record without a reason) is not taken.
  it("gives the same answer in PostgreSQL as the predicate, for every status and reason", async () => {
    const client = new Client({ connectionString: await suiteDatabaseUrl() });
    await client.connect();
    try {
      const statuses = ["ACTIVE", "PENDING_DELETION"];
      const reasons = [null, "ACTIVE_DELETION", "PASSIVE_DELETION"];
      const cases = statuses.flatMap((status) => reasons.map((deletionReason) => ({ status, deletionReason })));
      const { rows } = await client.query(
        `SELECT status, deletion_reason, ${ACTIVELY_DELETABLE_SQL} IS TRUE AS deletable
           FROM unnest($1::text[], $2::text[]) AS c(status, deletion_reason)`,
        [cases.map((c) => c.status), cases.map((c) => c.deletionReason)],
      );
      assert.deepEqual(
        rows.map((r: { status: string; deletion_reason: string | null; deletable: boolean }) => r.deletable),
        cases.map((c) => isActivelyDeletable(c)),
      );
      assert.deepEqual(
        cases.filter((c) => isActivelyDeletable(c)).map((c) => `${c.status}/${c.deletionReason}`),
        ["ACTIVE/null", "ACTIVE/ACTIVE_DELETION", "ACTIVE/PASSIVE_DELETION", "PENDING_DELETION/PASSIVE_DELETION"],
      );
    } finally {
      await client.end();
    }
  });
});
