import { execFile } from "node:child_process";
import { chmod, chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../src/shared/db/embedded";

const run = promisify(execFile);
const BIN = "/usr/lib/postgresql/15/bin";

/**
 * A PostgreSQL 15 cluster of its own on loopback, from Debian's binaries (the machine's pg_dump
 * is 15 and cannot dump the embedded server's 18). As root it runs as the postgres user, who
 * owns its directory; otherwise as the current user.
 */
export interface Cluster {
  name: string;
  url: string;
  port: number;
  /** Everything the server logged (connections included). */
  log(): Promise<string>;
  /** `pg_dump` of one database, as text. */
  dump(database: string): Promise<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

const POSTGRES_UID_GID = async (): Promise<[number, number] | null> => {
  if (process.getuid?.() !== 0) return null;
  const { stdout } = await run("id", ["-u", "postgres"]);
  const { stdout: gid } = await run("id", ["-g", "postgres"]);
  return [Number(stdout.trim()), Number(gid.trim())];
};

export async function startCluster(name: string, settings: Record<string, string> = {}): Promise<Cluster> {
  const owner = await POSTGRES_UID_GID();
  const dir = await mkdtemp(join(tmpdir(), `custodian-${name.toLowerCase()}-`));
  await chmod(dir, 0o755);
  if (owner) await chown(dir, owner[0], owner[1]);
  const asOwner = (file: string, args: string[]) => (owner ? run("runuser", ["-u", "postgres", "--", file, ...args]) : run(file, args));
  const data = join(dir, "data");
  const logFile = join(dir, "server.log");
  await asOwner(join(BIN, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c log_connections=on",
    ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`),
  ].join(" ");
  const start = async () => {
    await asOwner(join(BIN, "pg_ctl"), ["-D", data, "-o", options, "-l", logFile, "-w", "start"]);
  };
  const stop = async () => {
    await asOwner(join(BIN, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"]).catch(() => undefined);
  };
  await start();
  return {
    name,
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    log: () => readFile(logFile, "utf8"),
    async dump(database) {
      const { stdout } = await run("pg_dump", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "--no-owner", database], {
        maxBuffer: 256 * 1024 * 1024,
      });
      return stdout;
    },
    stop,
    start,
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
