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
