import { randomUUID } from "node:crypto";
import assert from "node:assert/strict";
import type { TestApp } from "./app";
import { principals } from "./app";

/** A tenant of its own for each test, so tests never depend on each other's data. */
export async function createTenant(app: TestApp, input: { name?: string; storageLocationCode?: string; retentionPolicy?: Record<string, number> } = {}) {
  const result = await app.as(principals.operator()).gql<{ createTenant: { id: string; name: string } }>(
    `mutation($input: CreateTenantInput!) { createTenant(input: $input) { id name } }`,
    { input: { name: input.name ?? `Tenant ${randomUUID().slice(0, 8)}`, storageLocationCode: input.storageLocationCode ?? "EU", retentionPolicy: input.retentionPolicy } },
  );
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  return result.data!.createTenant;
}
