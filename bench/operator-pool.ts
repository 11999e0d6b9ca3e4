import { Client, Pool, type PoolClient } from "pg";
import { appLoginUrl } from "../src/shared/db/pools";
import { scopeClaim } from "../src/shared/db/scope-claim";
import { ALL_TENANTS } from "../src/shared/db/session";

type Callback = (error: Error | undefined, client?: PoolClient, release?: (error?: Error | boolean) => void) => void;

/**
 * A pg pool for the bench's other targets (PostGraphile, the floor): it logs in as custodian_app
 * and gives each connection the operator's signed scope before its first use, so they read under
 * the same row-level security as Custodian. Custodian itself sets the scope per transaction.
 */
export class OperatorPool extends Pool {
  private readonly scoped = new WeakSet<PoolClient>();

  private constructor(
    url: string,
    private readonly key: string,
    max: number,
  ) {
    super({ connectionString: url, max });
  }

  static async open(ownerUrl: string, max = 10): Promise<OperatorPool> {
    const owner = new Client({ connectionString: ownerUrl });
    await owner.connect();
    try {
      const { rows } = await owner.query(`SELECT value FROM custodian_secret WHERE name = 'scope'`);
      return new OperatorPool(appLoginUrl(ownerUrl), rows[0].value, max);
    } finally {
      await owner.end();
    }
  }

  private async scopedClient(): Promise<PoolClient> {
    const client = await super.connect();
    if (!this.scoped.has(client)) {
      const pid = (client as unknown as { processID: number }).processID;
      await client.query("SELECT set_config('custodian.scope', $1, false)", [scopeClaim(this.key, ALL_TENANTS, pid)]);
      this.scoped.add(client);
    }
    return client;
  }

  // pg's own query() calls connect with a callback; libraries await it.
  override connect(): Promise<PoolClient>;
  override connect(callback: Callback): void;
  override connect(callback?: Callback): Promise<PoolClient> | void {
    if (!callback) return this.scopedClient();
    this.scopedClient().then(
      (client) => callback(undefined, client, (error) => client.release(error)),
      (error: Error) => callback(error),
    );
  }
}
