import type { DataSource } from "typeorm";
import { Client } from "pg";

/**
 * Runs `during` with `observe` called for every statement this process sends (every pg client
 * query: TypeORM's and ours). Only meaningful while nothing else in the process talks to a database.
 */
async function observingQueries<T>(observe: (client: Client, first: unknown) => void, during: () => Promise<T>): Promise<T> {
  const original = Client.prototype.query;
  Client.prototype.query = function (this: Client, ...args: unknown[]) {
    observe(this, args[0]);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    return await during();
  } finally {
    Client.prototype.query = original;
  }
}

/** Counts the SQL statements this process sends while `during` runs. */
export async function countStatements<T>(during: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  const result = await observingQueries((_client, first) => {
    const query = first as string | { text?: string };
    statements.push(typeof query === "string" ? query : (query?.text ?? "?"));
  }, during);
  return { result, statements };
}

/** The servers (by port) this process sends statements to while `during` runs. */
export async function serversUsed<T>(during: () => Promise<T>): Promise<{ result: T; ports: Set<number> }> {
  const ports = new Set<number>();
  const result = await observingQueries((client) => ports.add(client.port), during);
  return { result, ports };
}

/**
 * Holds the next statement that `db` sends whose SQL includes `match`, before it is sent or
 * after its answer came (`at`), until `release`: to run something else exactly there. `reached`
 * resolves once it is held; `restore` puts `db` back as it was (call it in a finally).
 */
export function holdNextStatement(db: DataSource, match: string, at: "before" | "after" = "before") {
  const original = db.query.bind(db);
  let reached!: () => void;
  let release!: () => void;
  const held = { reached: new Promise<void>((ok) => (reached = ok)), release: () => release(), restore: () => void (db.query = original) };
  const released = new Promise<void>((ok) => (release = ok));
  let armed = true;
  // Every argument passes through: a manager inside a transaction names its query runner third.
  db.query = (async (sql: string, ...rest: unknown[]) => {
    const hold = armed && sql.includes(match);
    if (hold) armed = false;
    if (hold && at === "before") {
      reached();
      await released;
    }
    const answer = await (original as (sql: string, ...rest: unknown[]) => Promise<unknown>)(sql, ...rest);
    if (hold && at === "after") {
      reached();
      await released;
    }
    return answer;
  }) as typeof db.query;
  return held;
}
