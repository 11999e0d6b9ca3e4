import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { appLoginUrl } from "../../src/shared/db/pools";
import { scopeClaim } from "../../src/shared/db/scope-claim";

describe("scope claims and logins (pure)", () => {
  const tenant = "7F2C1E4A-0B1D-4C3E-9A8B-0123456789AB";

  it("claims a tenant in lower case, every tenant, or nothing, bound to key and connection", () => {
    const claim = scopeClaim("k", { all: false, tenantId: tenant }, 42);
    assert.match(claim, /^tenant:7f2c1e4a-0b1d-4c3e-9a8b-0123456789ab:[0-9a-f]{64}$/);
    assert.match(scopeClaim("k", { all: true }, 42), /^all::[0-9a-f]{64}$/);
    assert.equal(scopeClaim("k", { all: false, tenantId: null }, 42), "");
    assert.equal(scopeClaim("k", { all: false, tenantId: "not-a-uuid" }, 42), "", "never a claim over something that is not a tenant id");
    assert.notEqual(scopeClaim("k", { all: true }, 43), scopeClaim("k", { all: true }, 42), "another connection, another proof");
    assert.notEqual(scopeClaim("other key", { all: true }, 42), scopeClaim("k", { all: true }, 42));
  });

  it("logs the request pool in as custodian_app, with a password derived from the owner's (none without one)", () => {
    const withPassword = new URL(appLoginUrl("postgres://postgres:s3cret@127.0.0.1:5433/custodian"));
    assert.equal(withPassword.username, "custodian_app");
    assert.match(withPassword.password, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(withPassword.password, "s3cret");
    assert.equal(withPassword.host, "127.0.0.1:5433");
    assert.equal(withPassword.pathname, "/custodian");
    assert.equal(appLoginUrl("postgres://postgres:s3cret@h/db"), appLoginUrl("postgres://postgres:s3cret@h/db"), "every process agrees");
    assert.equal(new URL(appLoginUrl("postgres://postgres@127.0.0.1:5432/test")).password, "");
  });
});
