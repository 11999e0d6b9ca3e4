import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config";
import { keystoreLocation } from "../../src/modules/keys/key-config";
import { MisconfiguredDatabaseError } from "../../src/shared/db/topology";
import { PRODUCTION_KEY_ENV } from "../helpers/production-env";

const REGION = "postgres://custodian@data.internal:5432/custodian_eu";

describe("where a location's key store is", () => {
  it("is the database KEYSTORE_DATABASES names, else <region database>_keys on the key store server, else beside the region in development", () => {
    assert.deepEqual(keystoreLocation({ urls: { EU: "postgres://k@keys-eu:5432/eu_keys" }, production: true }, "EU", REGION), {
      url: "postgres://k@keys-eu:5432/eu_keys",
      create: false,
    });
    assert.deepEqual(keystoreLocation({ serverUrl: "postgres://k@keys.internal:5432/postgres", production: true }, "EU", REGION), {
      url: "postgres://k@keys.internal:5432/custodian_eu_keys",
      create: true,
    });
    assert.deepEqual(keystoreLocation({ production: false }, "EU", REGION), { url: "postgres://custodian@data.internal:5432/custodian_eu_keys", create: true });
  });

  it("refuses, in production, a key store on the data's server (its backups would keep the keys)", () => {
    assert.throws(() => keystoreLocation({ production: true }, "EU", REGION), MisconfiguredDatabaseError);
    assert.throws(() => keystoreLocation({ serverUrl: "postgres://other@data.internal/postgres", production: true }, "EU", REGION), MisconfiguredDatabaseError);
    assert.throws(
      () => keystoreLocation({ urls: { EU: "postgres://x@localhost:5432/k" }, production: true }, "EU", "postgres://y@127.0.0.1/custodian_eu"),
      MisconfiguredDatabaseError,
    );
    assert.doesNotThrow(
      () => keystoreLocation({ serverUrl: "postgres://k@data.internal:5433/postgres", production: true }, "EU", REGION),
      "another port is another server",
    );
  });
});

describe("the master key and key store settings", () => {
  const SIGNING_KEY = String(generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));
  const production = { NODE_ENV: "production", JWT_SECRET: "x".repeat(32), AUDIT_SIGNING_KEY: SIGNING_KEY };

  it("requires MASTER_KEY and a key store of its own in production, and names no byte of a bad master key", () => {
    assert.throws(() => loadConfig({ ...production, KEYSTORE_DATABASE_URL: PRODUCTION_KEY_ENV.KEYSTORE_DATABASE_URL }), /MASTER_KEY is required/);
    assert.throws(() => loadConfig({ ...production, MASTER_KEY: PRODUCTION_KEY_ENV.MASTER_KEY }), /KEYSTORE_DATABASE_URL is required/);
    assert.equal(loadConfig({ ...production, ...PRODUCTION_KEY_ENV }).masterKey?.length, 32);
    assert.equal(loadConfig({ ...production, MASTER_KEY: PRODUCTION_KEY_ENV.MASTER_KEY, KEYSTORE_SAME_SERVER_UNSAFE: "1" }).keystoreSameServerUnsafe, true);
    const bad = Buffer.alloc(31, 7).toString("base64");
    assert.throws(
      () => loadConfig({ MASTER_KEY: bad }),
      (e: Error) => e instanceof ConfigError && /MASTER_KEY must be 32 bytes/.test(e.message) && !e.message.includes(bad),
    );
    assert.equal(loadConfig({}).masterKey, null, "development: none, the key file is used");
  });
});

describe("previous master keys", () => {
  it("reads MASTER_KEY_PREVIOUS as version:key pairs, and names no byte of a bad one", () => {
    const one = Buffer.alloc(32, 1).toString("base64");
    const previous = loadConfig({ MASTER_KEY_PREVIOUS: `1:${one}`, MASTER_KEY_VERSION: "2" });
    assert.equal(previous.masterKeyVersion, 2);
    assert.deepEqual([...previous.masterKeysPrevious.keys()], [1]);
    const bad = Buffer.alloc(20, 9).toString("base64");
    for (const value of [`1:${bad}`, `x:${one}`, `1:${one},1:${one}`]) {
      assert.throws(
        () => loadConfig({ MASTER_KEY_PREVIOUS: value }),
        (e: Error) =>
          e instanceof ConfigError &&
          e.message.startsWith("Invalid configuration: MASTER_KEY_PREVIOUS") &&
          !e.message.includes(bad) &&
          !e.message.includes(one),
      );
    }
  });
});
