import pg from "pg";

/** PostgreSQL's refusal of a new connection for a limit: the server's, a database's or a role's. */
const TOO_MANY_CONNECTIONS = "53300";
/** The wait before the first retry, doubled up to the last (with jitter, so waiters do not retry in step). */
const FIRST_WAIT_MS = 25;
const LONGEST_WAIT_MS = 400;

type Release = (error?: Error | boolean) => void;
type ConnectCallback = (error: Error | undefined, client: pg.PoolClient | undefined, release: Release) => void;

/**
 * pg's pool, waiting for a slot when the server refuses a new connection for its connection limit
 * (other processes' connections come and go within moments: a statement that needed a new
 * connection then failed at once). It tries again within the pool's connection timeout, then fails
 * with the server's refusal as before. Every other failure to connect fails at once.
 */
export class PatientPool extends pg.Pool {
  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | void {
    if (!callback) {
      return new Promise((resolve, reject) => this.connect((error, client) => (error ? reject(error) : resolve(client!))));
    }
    const budgetMs = (this.options as { connectionTimeoutMillis?: number }).connectionTimeoutMillis || 3_000;
    const started = Date.now();
    let waitMs = FIRST_WAIT_MS;
    const attempt = () =>
      super.connect(((error: (Error & { code?: string }) | undefined, client: pg.PoolClient | undefined, release: Release) => {
        const wait = Math.min(waitMs * (0.5 + Math.random()), started + budgetMs - Date.now());
        if (error?.code === TOO_MANY_CONNECTIONS && wait > 0 && !this.ending) {
          waitMs = Math.min(waitMs * 2, LONGEST_WAIT_MS);
          setTimeout(attempt, wait);
          return;
        }
        callback(error, client, release);
      }) as never);
    attempt();
  }
}

/** The pg module with PatientPool for TypeORM's `driver` option (its other parts as pg's own). */
export const patientPg: typeof pg = Object.assign(Object.create(pg) as typeof pg, { Pool: PatientPool });
