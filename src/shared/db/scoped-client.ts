import { Client, Query } from "pg";

/**
 * pg's client with an error listener of its own. A connection's error can arrive when no one
 * else listens (a server that dies sends each idle backend's client a FATAL, and a client between
 * TypeORM's release and pg-pool's may hold no listener): node then throws the unhandled 'error'
 * event and the process dies. Seen when the embedded server was killed under the API. The pool's
 * and TypeORM's listeners still act on the error; this one only keeps the process alive.
 */
export class GuardedClient extends Client {
  constructor(...args: ConstructorParameters<typeof Client>) {
    super(...args);
    this.on("error", () => undefined);
  }
}

/**
 * The request pools' connection: pg's client that, while a request session holds it, sends the
 * session's signed scope claim (see scope-claim) in the same round trip as each statement.
 *
 * Each statement goes out as one extended-protocol pipeline with one Sync: first
 * `set_config('custodian.scope', claim, true)`, then the statement. One Sync is one transaction,
 * so the claim holds for that statement (or, inside BEGIN ... COMMIT, to the transaction's end)
 * and is gone when it ends: no round trip sets it before a request's reads, none clears it
 * after, and a pooled connection never holds it. The claim travels as a bound parameter, never in
 * a statement's text (which other sessions of the role can read in pg_stat_activity).
 */
export class ScopedClient extends GuardedClient {
  /** The claim of the session holding this connection; null when no session holds it. */
  scopeClaim: string | null = null;

  override query(...args: unknown[]): never {
    const plain = super.query as (...a: unknown[]) => never;
    const [config, values, callback] = args as [QueryConfigLike, unknown, unknown];
    const claim = this.scopeClaim;
    if (claim === null || !carriesClaim(config)) return plain.apply(this, args);
    const query = new ScopedQuery(claim, config, values, callback);
    if (query.callback) return plain.call(this, query);
    return new Promise((ok, fail) => {
      query.callback = (error: Error | null, result?: unknown) => (error ? fail(error) : ok(result));
      plain.call(this, query);
    }) as never;
  }
}

/**
 * Which statements carry the claim: every one but transaction control (a claim before BEGIN
 * would end with the pipeline's own transaction; COMMIT and ROLLBACK need none) and pg's
 * submittables (cursors, streams), which run as they are and see no rows, as without a session.
 */
function carriesClaim(config: QueryConfigLike): config is string | { text: string } {
  if (typeof config === "string") return !TRANSACTION_CONTROL.test(config);
  if (typeof config !== "object" || config === null || typeof config.submit === "function") return false;
  return typeof config.text === "string" && config.text !== "" && !TRANSACTION_CONTROL.test(config.text);
}

/**
 * The pool's onConnect for ScopedClient connections: prepares the claim's statement once per
 * connection (run with an empty claim, a no-op), so that no statement of a session parses it.
 * A connection where that fails is not handed out.
 */
export async function prepareScopeStatement(client: Client): Promise<void> {
  await client.query({ name: SCOPE_STATEMENT, text: SCOPE_TEXT, values: ["", PLANNED_AS_CONFIGURED] });
}

const SCOPE_STATEMENT = "custodian_scope";
/**
 * The claim, and how the statement behind it is planned. A named statement (preparedQuery: the
 * read path's few shapes) is planned once per connection, as its name promises: left to
 * PostgreSQL, a statement whose custom plans looked cheaper than its generic one was planned on
 * every call (a dashboard's region statement for 5 tenants: 0.5 ms of planning each time, four
 * times over four regions, where 20 tenants in one region took the generic plan). Every other
 * statement gets the session's own setting back (a null value restores it: the server's or the
 * role's, not ours). Both settings end with the statement's transaction.
 */
const SCOPE_TEXT = "SELECT set_config('custodian.scope', $1, true), set_config('plan_cache_mode', $2, true)";
const PLANNED_ONCE = "force_generic_plan";
const PLANNED_AS_CONFIGURED = null;
const TRANSACTION_CONTROL = /^\s*(START\s+TRANSACTION|BEGIN|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION)\b/i;

type QueryConfigLike = string | { text?: unknown; name?: string; values?: unknown[]; submit?: unknown } | null | undefined;

/** What pg's client hands a submitted query (pg's Connection). */
interface PgConnection {
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
  stream: { cork?: () => void; uncork?: () => void };
  bind(config: { portal: string; statement: string; values: unknown[] }): void;
  execute(config: { portal: string }): void;
}

/** pg's Query, with the parts of its submittable interface that ScopedQuery extends. */
interface PgQuery {
  name?: string;
  text?: string;
  values?: unknown;
  callback?: (error: Error | null, result?: unknown) => void;
  submit(connection: PgConnection): Error | null;
  handleDataRow(message: unknown): void;
  handleRowDescription(message: unknown): void;
  handleCommandComplete(message: unknown, connection: PgConnection): void;
}
const PgQueryClass = Query as unknown as new (config: unknown, values?: unknown, callback?: unknown) => PgQuery;

/**
 * A statement preceded by the claim, in one pipeline. The claim's answer (a row and its
 * CommandComplete) comes first and is passed over; the rest is pg's Query as usual. An error
 * in either ends the pipeline at its Sync, and pg reports it as the statement's.
 */
class ScopedQuery extends PgQueryClass {
  /** True until the claim's statement has answered. */
  private claimPending = false;

  constructor(
    private readonly claim: string,
    config: string | { text: string },
    values: unknown,
    callback: unknown,
  ) {
    // The extended protocol even without parameters: a simple Query message would end the
    // pipeline's transaction on its own.
    super({ ...(typeof config === "string" ? { text: config } : config), queryMode: "extended" }, values, callback);
  }

  override submit(connection: PgConnection): Error | null {
    // What pg's Query refuses, refused before anything is written: the claim's messages must
    // never go out without the statement and its Sync behind them.
    if (connection.parsedStatements[SCOPE_STATEMENT] === undefined) return new Error("the scope statement is not prepared on this connection");
    const previous = this.name ? (connection.parsedStatements[this.name] ?? connection.submittedNamedStatements[this.name]) : undefined;
    if (previous !== undefined && previous !== this.text)
      return new Error(`Prepared statements must be unique - '${this.name}' was used for a different statement`);
    if (this.values !== undefined && this.values !== null && !Array.isArray(this.values)) return new Error("Query values must be an array");
    connection.stream.cork?.();
    try {
      connection.bind({ portal: "", statement: SCOPE_STATEMENT, values: [this.claim, this.name ? PLANNED_ONCE : PLANNED_AS_CONFIGURED] });
      connection.execute({ portal: "" });
      this.claimPending = true;
      // Parse (if new), Bind, Describe, Execute, Sync: written behind the claim, in one write.
      return super.submit(connection);
    } finally {
      connection.stream.uncork?.();
    }
  }

  override handleDataRow(message: unknown): void {
    if (!this.claimPending) super.handleDataRow(message);
  }

  override handleRowDescription(message: unknown): void {
    if (!this.claimPending) super.handleRowDescription(message);
  }

  override handleCommandComplete(message: unknown, connection: PgConnection): void {
    if (this.claimPending) this.claimPending = false;
    else super.handleCommandComplete(message, connection);
  }
}
