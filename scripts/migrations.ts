import "reflect-metadata";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createDataSource, createKeystoreDataSource } from "../ormconfig";
import { ConfigError, loadConfig } from "../src/config";
import { openDatabases } from "../src/databases";
import { locationCodes } from "../src/modules/storage-location/storage-location.store";
import { systemClock } from "../src/shared/clock";
import { migrate, revertLast, schemaDrift, type Statement } from "../src/shared/db/migrate";
import { CONTROL, keystoreName, PG_UNKNOWN_DATABASE, regionUrlOf } from "../src/shared/db/topology";
import { keystoreLocation, keystoreSettings } from "../src/modules/keys/key-config";
import { pgErrorCode } from "../src/shared/db/database";
import { createLogger, type Logger } from "../src/shared/logging";
import { configuredServer, freshDatabase } from "./fresh-database";

const USAGE = `usage:
  npm run migration:create -- <Name>     a new, empty migration in migrations/, listed in migrations/index.ts
  npm run migration:generate -- <Name>   the same, holding what the entities declare and the migrations do not yet make
  npm run migration:run                  applies pending migrations to control and every region database
  npm run migration:revert               undoes the newest applied migration of control and every region database
  npm run migration:check                fails when migrations and entities disagree (a throwaway database, migrated from nothing)
run and revert act on DATABASE_URL (and STORAGE_LOCATION_DATABASES), or on the embedded database npm start uses.`;

/** Migration class names: TypeORM keys applied migrations by name, so a name is a plain identifier. */
const NAME = /^[A-Z][A-Za-z0-9]{0,59}$/;

/** A migration's source: `up` and `down` run these statements, in order. */
export function migrationSource(className: string, up: readonly Statement[], down: readonly Statement[]): string {
  const body = (statements: readonly Statement[]) =>
    statements.length
      ? statements.map((s) => `    await q.query(${JSON.stringify(s.query)}${s.parameters ? `, ${JSON.stringify(s.parameters)}` : ""});`).join("\n")
      : "    // TODO";
  return `import type { MigrationInterface, QueryRunner } from "typeorm";

/** TODO: what this migration changes, and why. */
export class ${className} implements MigrationInterface {
  name = "${className}";

  async up(q: QueryRunner): Promise<void> {
${body(up)}
  }

  async down(q: QueryRunner): Promise<void> {
${body(down)}
  }
}
`;
}

/**
 * Writes migration `<timestamp>-<name>.ts` into `dir` and lists it last in `dir/index.ts`
 * (migrations run from that explicit list, never from a glob). Returns the file's path.
 */
export async function addMigration(dir: string, name: string, now: Date, up: readonly Statement[] = [], down: readonly Statement[] = []): Promise<string> {
  if (!NAME.test(name)) throw new UsageError(`a migration's name is a capitalised identifier, e.g. AddWebhooks; got ${JSON.stringify(name)}`);
  const timestamp = now.getTime();
  const className = `${name}${timestamp}`;
  const file = `${timestamp}-${name}`;
  const indexPath = join(dir, "index.ts");
  const index = await readFile(indexPath, "utf8");
  const list = index.lastIndexOf("];");
  const imports = [...index.matchAll(/^import .*\n/gm)];
  if (list < 0 || !imports.length) throw new Error(`${indexPath} does not look like the migrations' list`);
  const last = imports[imports.length - 1];
  const importEnd = last.index + last[0].length;
  const next =
    index.slice(0, importEnd) + `import { ${className} } from "./${file}";\n` + index.slice(importEnd, list) + `  ${className},\n` + index.slice(list);
  const path = join(dir, `${file}.ts`);
  await writeFile(path, migrationSource(className, up, down), { flag: "wx" });
  await writeFile(indexPath, next);
  return path;
}

class UsageError extends Error {}

const reverted = (database: string, name: string | null) => `${database}: ${name ? `reverted ${name}` : "no migration applied"}`;

/**
 * The schema diff of a throwaway database that ran every migration from nothing. One database
 * stands for all: control and the regions run the same migrations, which do not know where
 * they run (a database learns its location after migrating). Nothing else touches it, so an
 * entity that is ahead of the migrations (what generate is for) cannot fail its set-up.
 */
async function freshDrift(log: Logger): Promise<{ up: Statement[]; down: Statement[] }> {
  let drift: { up: Statement[]; down: Statement[] } | undefined;
  const database = await freshDatabase("custodian_migration", log, undefined, async (url) => {
    const db = createDataSource(url, { timeouts: false, poolSize: 2 });
    await db.initialize();
    try {
      await migrate(db);
      drift = await schemaDrift(db);
    } finally {
      await db.destroy();
    }
  });
  await database.drop();
  return drift!;
}

/** Reverts the newest migration of a location's key store; one that was never made has none to revert. */
async function revertKeystore(url: string, code: string): Promise<string> {
  const keystore = createKeystoreDataSource(url, { poolSize: 2 });
  try {
    await keystore.initialize();
  } catch (error) {
    if (pgErrorCode(error) === PG_UNKNOWN_DATABASE) return `${keystoreName(code)}: none`;
    throw error;
  }
  try {
    return reverted(keystoreName(code), await revertLast(keystore));
  } finally {
    await keystore.destroy();
  }
}

async function main(command: string | undefined, args: string[]): Promise<number> {
  // Logs go to stderr: stdout is what the command did.
  const log = createLogger(process.env.LOG_LEVEL === "debug" ? "debug" : "warn", process.stderr);
  const migrationsDir = join(__dirname, "..", "..", "migrations");
  switch (command) {
    case "create": {
      if (args.length !== 1) throw new UsageError("migration:create takes one name");
      console.log(`created ${await addMigration(migrationsDir, args[0], systemClock.now())}`);
      return 0;
    }
    case "generate": {
      if (args.length !== 1) throw new UsageError("migration:generate takes one name");
      if (!NAME.test(args[0])) throw new UsageError(`a migration's name is a capitalised identifier, e.g. AddWebhooks; got ${JSON.stringify(args[0])}`);
      const drift = await freshDrift(log);
      if (!drift.up.length) {
        console.log("the entities and the migrations agree: nothing to generate");
        return 0;
      }
      // The schema builder's down statements undo its up statements in reverse.
      console.log(`created ${await addMigration(migrationsDir, args[0], systemClock.now(), drift.up, [...drift.down].reverse())}`);
      return 0;
    }
    case "check": {
      if (args.length) throw new UsageError("migration:check takes no argument");
      const { up } = await freshDrift(log);
      console.log(`${up.length} statement${up.length === 1 ? "" : "s"} of drift between the entities and the migrations`);
      for (const s of up) console.log(`  ${s.query}`);
      if (up.length) console.log("the entities declare what the migrations do not make: npm run migration:generate -- <Name> writes the migration that does");
      return up.length ? 1 : 0;
    }
    case "run": {
      if (args.length) throw new UsageError("migration:run takes no argument");
      const config = loadConfig();
      const { url, embedded } = await configuredServer(config, log);
      try {
        const applied: string[] = [];
        const topology = await openDatabases({
          controlUrl: url,
          regionUrls: config.regionDatabaseUrls,
          keystore: keystoreSettings(config),
          pool: { poolSize: 2, timeouts: false },
          log,
          now: systemClock.now(),
          onMigrated: (database, names) => applied.push(...names.map((n) => `${database}: applied ${n}`)),
        });
        await topology.close();
        console.log(applied.length ? applied.join("\n") : "every database is up to date");
      } finally {
        await embedded?.stop();
      }
      return 0;
    }
    case "revert": {
      if (args.length) throw new UsageError("migration:revert takes no argument");
      const config = loadConfig();
      const { url, embedded } = await configuredServer(config, log);
      try {
        const control = createDataSource(url, { timeouts: false, poolSize: 2 });
        await control.initialize();
        try {
          // Regions first, control last: control's directory names the regions to visit.
          for (const code of await locationCodes(control.manager)) {
            const region = createDataSource(regionUrlOf({ controlUrl: url, regionUrls: config.regionDatabaseUrls }, code), {
              timeouts: false,
              poolSize: 2,
            });
            await region.initialize();
            try {
              console.log(reverted(code, await revertLast(region)));
            } finally {
              await region.destroy();
            }
            console.log(
              await revertKeystore(
                keystoreLocation(keystoreSettings(config), code, regionUrlOf({ controlUrl: url, regionUrls: config.regionDatabaseUrls }, code)).url,
                code,
              ),
            );
          }
          console.log(reverted(CONTROL, await revertLast(control)));
        } finally {
          await control.destroy();
        }
      } finally {
        await embedded?.stop();
      }
      return 0;
    }
    default:
      throw new UsageError(command ? `unknown command ${command}` : "which command?");
  }
}

if (require.main === module) {
  // TypeORM's schema builder reads the catalog with overlapping queries on one connection, which
  // pg 8 queues and warns of: that warning is about TypeORM, not about the migrations.
  const [printWarning] = process.listeners("warning");
  process.removeAllListeners("warning");
  process.on("warning", (warning) => {
    if (!(warning.name === "DeprecationWarning" && warning.message.startsWith("Calling client.query() when the client is already executing")))
      printWarning?.(warning);
  });
  main(process.argv[2], process.argv.slice(3)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError) console.error(`${error.message}\n${USAGE}`);
      else console.error(error instanceof ConfigError ? error.message : error);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
