import { Client } from "pg";

/**
 * Counts the SQL statements this process sends while `during` runs (every pg client query:
 * TypeORM's and ours). Only meaningful while nothing else in the process talks to the database.
 */
export async function countStatements<T>(during: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  const original = Client.prototype.query;
  Client.prototype.query = function (this: Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    statements.push(typeof first === "string" ? first : (first?.text ?? "?"));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    return { result: await during(), statements };
  } finally {
    Client.prototype.query = original;
  }
}

/** The servers (by port) this process sends statements to while `during` runs. */
export async function serversUsed<T>(during: () => Promise<T>): Promise<{ result: T; ports: Set<number> }> {
  const ports = new Set<number>();
  const original = Client.prototype.query;
  Client.prototype.query = function (this: Client, ...args: unknown[]) {
    ports.add(this.port);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    return { result: await during(), ports };
  } finally {
    Client.prototype.query = original;
  }
}
