import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { pgErrorCode } from "../../src/shared/db/database";
import { withDatabase } from "../../src/shared/db/topology";

/** PostgreSQL's "object in use": a template someone is connected to cannot be copied yet. */
const PG_OBJECT_IN_USE = "55006";

/**
 * The test runner's database (DATABASE_URL, migrated and seeded with its region databases) is a
 * template: test files run side by side, and each works on copies of its own, made here in a
 * few hundred milliseconds instead of migrating. Without the runner's list of regions (a file
 * run by hand), DATABASE_URL itself is used.
 */
export async function copyOfSuiteDatabase(prefix = "f"): Promise<{ url: string; drop(): Promise<void> }> {
  const templateUrl = process.env.DATABASE_URL;
  if (!templateUrl) throw new Error("DATABASE_URL is not set: run the suite with `npm test`");
  const regions = process.env.CUSTODIAN_TEST_REGIONS;
  if (regions === undefined) return { url: templateUrl, drop: async () => undefined };
  const template = decodeURIComponent(new URL(templateUrl).pathname.slice(1));
  // Named after the template, so the runner's clean-up (the template and `<template>_*`) drops it too.
  const name = `${template}_${prefix}${randomBytes(4).toString("hex")}`;
  const copies: Array<[string, string]> = [
    [template, name],
    ...regions
      .split(",")
      .filter(Boolean)
      .map((r): [string, string] => [`${template}_${r}`, `${name}_${r}`]),
  ];
  const admin = new Client({ connectionString: withDatabase(templateUrl, "postgres") });
  await admin.connect();
  try {
    for (const [from, to] of copies) {
      for (let attempt = 0; ; attempt++) {
        try {
          await admin.query(`CREATE DATABASE "${to}" TEMPLATE "${from}" STRATEGY ${copyStrategy()}`);
          // A copy lives for one test file: its commits need not wait for the disk (a setting of
          // this database alone; tests of durability run servers of their own).
          await admin.query(`ALTER DATABASE "${to}" SET synchronous_commit = off`);
          break;
        } catch (error) {
          if (pgErrorCode(error) !== PG_OBJECT_IN_USE || attempt >= 50) throw error;
          await new Promise((ok) => setTimeout(ok, 100));
        }
      }
    }
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(templateUrl, name),
    async drop() {
      const c = new Client({ connectionString: withDatabase(templateUrl, "postgres") });
      await c.connect();
      try {
        for (const [, to] of copies) await c.query(`DROP DATABASE IF EXISTS "${to}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * How PostgreSQL copies a template: by default through its WAL (WAL_LOG), page by page; FILE_COPY
 * copies the files after a checkpoint, which on the runner's own embedded server (no fsync) took
 * half the time for the nine databases of a copy (0.33-0.46 s against 0.77-0.87 s), and their drops
 * a fifth. On a server that syncs, the checkpoint is the cost: there it stays WAL_LOG.
 */
function copyStrategy(): "WAL_LOG" | "FILE_COPY" {
  return process.env.CUSTODIAN_TEST_COPY_STRATEGY === "FILE_COPY" ? "FILE_COPY" : "WAL_LOG";
}

let own: Promise<string> | null = null;

/** This test file's database: one copy of the suite's template per process, made on first use. */
export function suiteDatabaseUrl(): Promise<string> {
  return (own ??= copyOfSuiteDatabase().then((copy) => copy.url));
}
