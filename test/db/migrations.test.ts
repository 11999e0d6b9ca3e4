import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { DataSource } from "typeorm";
import { createDataSource } from "../../ormconfig";
import { addMigration, migrationSource } from "../../scripts/migrations";
import { schemaDrift } from "../../src/shared/db/migrate";
import { regionUrlOf } from "../../src/shared/db/topology";
import { keystoreLocation } from "../../src/modules/keys/key-config";
import { isolatedDatabase } from "../helpers/isolated-db";

const LOCATIONS = ["APAC", "EU", "UK", "US"];

/** `work` with the owner's DataSource on `url`, destroyed after. */
async function on<T>(url: string, work: (db: DataSource) => Promise<T>): Promise<T> {
  const db = createDataSource(url, { timeouts: false, poolSize: 2 });
  await db.initialize();
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

describe("migrations and entity metadata", () => {
  let database: { url: string; drop(): Promise<void> };
  const urls = () => [database.url, ...LOCATIONS.map((code) => regionUrlOf({ controlUrl: database.url }, code))];

  before(async () => {
    database = await isolatedDatabase();
  });
  after(() => database?.drop());

  it("agree on control and on every region: TypeORM's schema builder plans no statement", async () => {
    for (const url of urls()) {
      const { up } = await on(url, schemaDrift);
      assert.deepEqual(
        up.map((s) => s.query),
        [],
        `drift on ${new URL(url).pathname}`,
      );
    }
  });

  it("the drift check sees what the migrations did not make (an index dropped by hand)", async () => {
    await on(database.url, async (db) => {
      await db.query(`DROP INDEX tenant_created_at_id`);
      try {
        const { up } = await schemaDrift(db);
        assert.equal(up.length, 1);
        assert.match(up[0].query, /CREATE INDEX "tenant_created_at_id" ON "tenant" +\("created_at", "id"\)/);
      } finally {
        await db.query(`CREATE INDEX tenant_created_at_id ON tenant (created_at, id)`);
      }
    });
  });

  it("npm run migration:revert undoes the newest migration everywhere and migration:run applies it again", async () => {
    const script = join(__dirname, "..", "..", "scripts", "migrations.js");
    const cli = async (command: string) =>
      (await promisify(execFile)(process.execPath, [script, command], { env: { ...process.env, DATABASE_URL: database.url, LOG_LEVEL: "warn" } })).stdout;
    // The data's newest migration has the outbox write each event's deliveries (reverted, its
    // trigger goes; applied again, an event written meanwhile keeps its place and the next one is
    // fanned out); the key store's keeps a KEK from being destroyed under a subject key that names it.
    const count = (url: string, sql: string) => on(url, async (db) => Number((await db.query(sql))[0].n));
    const fanOuts = (url: string) => count(url, `SELECT count(*) AS n FROM pg_trigger WHERE tgname = 'deliveries' AND tgrelid = 'event'::regclass`);
    const sealedColumns = (url: string) =>
      count(
        url,
        `SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'webhook_endpoint' AND column_name IN ('secret_sealed', 'previous_secret_sealed')`,
      );
    const kekGuards = (url: string) => count(url, `SELECT count(*) AS n FROM pg_constraint WHERE conname = 'subject_key_kek_fkey'`);
    const guards = (url: string) => count(url, `SELECT count(*) AS n FROM pg_class WHERE relname = 'shred_epoch'`);
    const eu = regionUrlOf({ controlUrl: database.url }, "EU");
    // Each location's key store is migrated (and made) with it, and reverted with it.
    const euKeys = keystoreLocation({ production: false }, "EU", eu).url;
    const newest = (name: string) => (name.endsWith("key store") ? "SubjectKeysUnderTheirKek" : "DeliveriesWrittenByTheOutbox");
    await cli("run");
    assert.equal(await fanOuts(eu), 1, "the newest migration is applied to start with");
    assert.ok((await kekGuards(euKeys)) > 0, "and the key store's");

    const reverted = await cli("revert");
    for (const name of [...LOCATIONS, ...LOCATIONS.map((l) => `${l} key store`), "control"])
      assert.match(reverted, new RegExp(`^${name}: reverted ${newest(name)}\\d+$`, "m"));
    assert.equal(await fanOuts(eu), 0);
    assert.equal(await fanOuts(database.url), 0);
    assert.equal(await kekGuards(euKeys), 0);
    assert.equal(await sealedColumns(eu), 2, "only the newest migration is reverted");
    assert.ok((await guards(euKeys)) > 0);
    // An operators' endpoint (in control) and an event written meanwhile, as the previous version writes them.
    const endpoint = randomUUID();
    await on(database.url, async (db) => {
      await db.query(
        `INSERT INTO webhook_endpoint (id, tenant_id, url, event_types, secret, created_at, updated_at)
         VALUES ($1, NULL, 'https://receiver.example/hook', '{SUBPROCESSOR_LIST_CHANGED}', 'written before', now(), now())`,
        [endpoint],
      );
      await db.query(`INSERT INTO event (id, tenant_id, type, occurred_at, data) VALUES (gen_random_uuid(), NULL, 'SUBPROCESSOR_LIST_CHANGED', now(), '{}')`);
    });

    const applied = await cli("run");
    for (const name of ["control", ...LOCATIONS, ...LOCATIONS.map((l) => `${l} key store`)])
      assert.match(applied, new RegExp(`^${name}: applied ${newest(name)}\\d+$`, "m"));
    assert.equal(await fanOuts(eu), 1);
    const deliveries = () => count(database.url, `SELECT count(*) AS n FROM webhook_delivery WHERE endpoint_id = '${endpoint}'`);
    assert.equal(await deliveries(), 0, "an event of before gets no delivery from the migration");
    await on(database.url, (db) =>
      db.query(`INSERT INTO event (id, tenant_id, type, occurred_at, data) VALUES (gen_random_uuid(), NULL, 'SUBPROCESSOR_LIST_CHANGED', now(), '{}')`),
    );
    assert.equal(await deliveries(), 1, "the next one gets its delivery from the outbox");
    assert.ok((await kekGuards(euKeys)) > 0);
    assert.equal((await cli("run")).trim(), "every database is up to date");
    for (const url of urls()) assert.equal((await on(url, schemaDrift)).up.length, 0);
  });
});

describe("migration:create and migration:generate write a migration and list it", () => {
  let dir: string;
  const INDEX = `import { First1 } from "./1-First";\n\n/** Every migration, in order. */\nexport const migrations = [\n  First1,\n];\n`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "custodian-migrations-"));
    await writeFile(join(dir, "index.ts"), INDEX);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("writes <timestamp>-<Name>.ts with the statements, and lists its class last", async () => {
    const now = new Date(1_800_000_000_000);
    const path = await addMigration(
      dir,
      "AddWebsite",
      now,
      [{ query: `ALTER TABLE "third_party" ADD "website" text` }],
      [{ query: `ALTER TABLE "third_party" DROP COLUMN "website"` }],
    );
    assert.equal(path, join(dir, "1800000000000-AddWebsite.ts"));
    const source = await readFile(path, "utf8");
    assert.match(source, /export class AddWebsite1800000000000 implements MigrationInterface/);
    assert.match(source, /async up\(q: QueryRunner\): Promise<void> \{\n {4}await q\.query\("ALTER TABLE \\"third_party\\" ADD \\"website\\" text"\);/);
    assert.match(source, /async down\(q: QueryRunner\): Promise<void> \{\n {4}await q\.query\("ALTER TABLE \\"third_party\\" DROP COLUMN \\"website\\""\);/);
    const index = await readFile(join(dir, "index.ts"), "utf8");
    assert.match(index, /import \{ First1 \} from "\.\/1-First";\nimport \{ AddWebsite1800000000000 \} from "\.\/1800000000000-AddWebsite";\n/);
    assert.match(index, / {2}First1,\n {2}AddWebsite1800000000000,\n\];/);
  });

  it("refuses a name that is not a class name, and never overwrites a migration", async () => {
    await assert.rejects(addMigration(dir, "drop table; --", new Date()), /capitalised identifier/);
    await assert.rejects(addMigration(dir, "AddWebsite", new Date(1_800_000_000_000)), /EEXIST/);
    const index = await readFile(join(dir, "index.ts"), "utf8");
    assert.equal(index.match(/AddWebsite1800000000000/g)?.length, 2, "listed once (import and array), not again");
  });

  it("an empty migration says where its statements go", () => {
    assert.match(migrationSource("Empty1", [], []), /async up\(q: QueryRunner\): Promise<void> \{\n {4}\/\/ TODO\n {2}\}/);
  });
});
