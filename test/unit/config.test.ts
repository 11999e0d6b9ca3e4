import { createPublicKey, generateKeyPairSync } from "node:crypto";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, DEVELOPMENT_JWT_SECRET, loadConfig } from "../../src/config";
import { PRODUCTION_KEY_ENV } from "../helpers/production-env";

const SECRET = "x".repeat(32);
const SIGNING_KEY = String(generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));

describe("loadConfig", () => {
  it("has working defaults for development", () => {
    const config = loadConfig({});
    assert.equal(config.port, 4000);
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.jwtSecret, DEVELOPMENT_JWT_SECRET);
    assert.equal(config.jwtSecretIsDefault, true);
    assert.equal(config.testClock, false);
    assert.equal(config.retentionIntervalMs, 3_600_000, "retention runs hourly");
  });

  it("reads RETENTION_INTERVAL as a duration, or off", () => {
    assert.equal(loadConfig({ RETENTION_INTERVAL: "15m" }).retentionIntervalMs, 900_000);
    assert.equal(loadConfig({ RETENTION_INTERVAL: "90" }).retentionIntervalMs, 90_000);
    assert.equal(loadConfig({ RETENTION_INTERVAL: "2h" }).retentionIntervalMs, 7_200_000);
    assert.equal(loadConfig({ RETENTION_INTERVAL: "off" }).retentionIntervalMs, null);
  });

  it("stops on a bad value, naming the variable", () => {
    const cases: Array<[NodeJS.ProcessEnv, string]> = [
      [{ PORT: "http" }, "PORT"],
      [{ PORT: "70000" }, "PORT"],
      [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
      [{ DATABASE_URL: "mysql://root@localhost/db" }, "DATABASE_URL"],
      [{ DATABASE_URL: "not a url" }, "DATABASE_URL"],
      [{ TEST_CLOCK: "maybe" }, "TEST_CLOCK"],
      [{ JWT_SECRET: "short" }, "JWT_SECRET"],
      [{ BODY_LIMIT_BYTES: "-1" }, "BODY_LIMIT_BYTES"],
      [{ RETENTION_INTERVAL: "soon" }, "RETENTION_INTERVAL"],
      [{ RETENTION_INTERVAL: "500ms" }, "RETENTION_INTERVAL"],
    ];
    for (const [env, variable] of cases) {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError && e.variable === variable && e.message.includes(variable),
        variable,
      );
    }
  });

  it("never echoes a secret or a database password", () => {
    const error = (() => {
      try {
        loadConfig({ DATABASE_URL: "ftp://user:hunter2-password@host/db" });
      } catch (e) {
        return e as Error;
      }
    })();
    assert.ok(error && !error.message.includes("hunter2"));
    assert.throws(
      () => loadConfig({ JWT_SECRET: "tiny-secret" }),
      (e: Error) => !e.message.includes("tiny-secret"),
    );
  });

  it("requires JWT_SECRET in production and refuses the test clock and debug errors there", () => {
    assert.throws(() => loadConfig({ NODE_ENV: "production" }), /JWT_SECRET is required/);
    const production = { NODE_ENV: "production", JWT_SECRET: SECRET, AUDIT_SIGNING_KEY: SIGNING_KEY, ...PRODUCTION_KEY_ENV };
    assert.equal(loadConfig(production).jwtSecretIsDefault, false);
    assert.throws(() => loadConfig({ ...production, TEST_CLOCK: "1" }), /TEST_CLOCK/);
    assert.throws(() => loadConfig({ ...production, DEBUG_ERRORS: "1" }), /DEBUG_ERRORS/);
    assert.equal(loadConfig({ TEST_CLOCK: "1" }).testClock, true);
  });

  it("signs audit checkpoints with AUDIT_SIGNING_KEY, required in production, and never echoes a bad one", () => {
    assert.throws(() => loadConfig({ NODE_ENV: "production", JWT_SECRET: SECRET }), /AUDIT_SIGNING_KEY is required/);
    const signer = loadConfig({ AUDIT_SIGNING_KEY: SIGNING_KEY.replace(/\n/g, "\\n") }).auditSigner;
    assert.equal(signer.publicKeyPem, String(createPublicKey(SIGNING_KEY).export({ type: "spki", format: "pem" })), "escaped newlines are accepted");
    const rsa = String(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }));
    for (const bad of ["not-a-key-hunter2", rsa]) {
      assert.throws(
        () => loadConfig({ AUDIT_SIGNING_KEY: bad }),
        (e: Error) => e instanceof ConfigError && /Ed25519/.test(e.message) && !e.message.includes(bad.slice(0, 20)),
      );
    }
    assert.equal(loadConfig({ MEMORY_LIMIT_MB: "512" }).memoryLimitBytes, 512 * 1024 * 1024);
    assert.equal(loadConfig({}).memoryLimitBytes, undefined);
    assert.throws(() => loadConfig({ MEMORY_LIMIT_MB: "12" }), /MEMORY_LIMIT_MB must be an integer from 64/);
    assert.equal(loadConfig({}).openedValuesBytes, 64 * 1024 * 1024);
    assert.equal(loadConfig({ OPENED_VALUES_MB: "0" }).openedValuesBytes, 0, "none kept");
    assert.throws(() => loadConfig({ OPENED_VALUES_MB: "-1" }), /OPENED_VALUES_MB must be an integer from 0/);
    // Development: derived from the JWT secret, so every process of one setup agrees.
    assert.equal(loadConfig({ JWT_SECRET: SECRET }).auditSigner.keyId, loadConfig({ JWT_SECRET: SECRET }).auditSigner.keyId);
  });
});
