import assert from "node:assert/strict";
import type { GqlResult } from "./app";

/** Asserts the operation failed with exactly this contract code (and never INTERNAL_SERVER_ERROR). */
export function assertError(result: GqlResult, code: string, field?: string): void {
  assert.ok(result.errors?.length, `expected ${code}, got data ${JSON.stringify(result.data)}`);
  const [error] = result.errors;
  assert.notEqual(error.extensions.code, "INTERNAL_SERVER_ERROR", error.message);
  assert.equal(error.extensions.code, code, error.message);
  if (field !== undefined) assert.equal(error.extensions.field, field);
}

export function assertOk<T>(result: GqlResult<T>): T {
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data as T;
}

/** The contract code `fn` throws, or "none" when it does not throw. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { extensions?: { code?: string } }).extensions?.code;
  }
  return "none";
}
