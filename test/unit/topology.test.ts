import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config";
import { regionDatabaseName, withDatabase } from "../../src/shared/db/topology";

describe("where each location's database is", () => {
  it("reads STORAGE_LOCATION_DATABASES as CODE=url pairs", () => {
    assert.deepEqual(loadConfig({}).regionDatabaseUrls, {});
    assert.deepEqual(loadConfig({ STORAGE_LOCATION_DATABASES: "EU=postgres://eu.example/custodian, US=postgresql://us.example/c" }).regionDatabaseUrls, {
      EU: "postgres://eu.example/custodian",
      US: "postgresql://us.example/c",
    });
  });

  it("refuses a malformed list, a code named twice, or a URL that is not PostgreSQL's, without echoing it", () => {
    for (const raw of ["EU", "eu=postgres://x/y", "EU=postgres://a/b,EU=postgres://c/d", "EU=mysql://secret@x/y", "=postgres://x/y"]) {
      assert.throws(
        () => loadConfig({ STORAGE_LOCATION_DATABASES: raw }),
        (error: unknown) => error instanceof ConfigError && /STORAGE_LOCATION_DATABASES/.test(error.message) && !error.message.includes("secret"),
        raw,
      );
    }
  });

  it("puts a location without a URL beside control, as <control>_<code>", () => {
    assert.equal(regionDatabaseName("postgres://u@h:5432/custodian", "EU"), "custodian_eu");
    assert.equal(regionDatabaseName("postgres://u@h:5432/custodian", "APAC"), "custodian_apac");
    assert.equal(withDatabase("postgres://u:p@h:5432/custodian?sslmode=require", "custodian_us"), "postgres://u:p@h:5432/custodian_us?sslmode=require");
    assert.throws(() => regionDatabaseName("postgres://h/custodian", "EU; DROP"), /cannot name a database/);
  });
});
