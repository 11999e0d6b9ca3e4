import { createHash } from "node:crypto";
import type { DataSource } from "typeorm";
import { isUuid } from "../ids";
import type { RowScope } from "./session";

/**
 * A request's row scope as the database checks it: `kind:tenant:proof` in `custodian.scope`,
 * where the proof is sha256(key || sha256(key || "kind:tenant:pid")) with the key from
 * `custodian_secret` and the pid of the connection it is set on. The policies recompute it
 * (custodian_tenant, custodian_scope_all); a session that writes the setting without the key gets no rows, and
 * a claim copied from another connection does not verify on this one. A caller with no scope
 * (partners, anonymous) sends an empty claim.
 */
export function scopeClaim(key: string, scope: RowScope, backendPid: number): string {
  let kind: "all" | "tenant";
  let tenant = "";
  if (scope.all) kind = "all";
  else if (scope.tenantId && isUuid(scope.tenantId)) {
    kind = "tenant";
    tenant = scope.tenantId.toLowerCase();
  } else return "";
  const sha = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
  const proof = sha(key + sha(`${key}${kind}:${tenant}:${backendPid}`));
  return `${kind}:${tenant}:${proof}`;
}

const keys = new WeakMap<DataSource, string>();

/** Gives a request pool the key it signs scopes with (read by the owner at start). */
export function registerScopeKey(db: DataSource, key: string): void {
  keys.set(db, key);
}

export function scopeKeyOf(db: DataSource): string {
  const key = keys.get(db);
  if (!key) throw new Error("this pool has no scope key: open it with openRequestPool");
  return key;
}
