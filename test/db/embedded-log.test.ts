import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { Client } from "pg";
import { loggablePostgresLine, startEmbeddedPostgres } from "../../src/shared/db/embedded";
import { createLogger } from "../../src/shared/logging";

/** @own-servers: an embedded PostgreSQL of its own. */

describe("the embedded server's log, forwarded at debug level", () => {
  it("keeps the server's own events and drops every line that can quote a statement or a value", () => {
    const prefix = "2026-12-01 05:43:40.816 UTC [18378] ";
    assert.equal(
      loggablePostgresLine(`${prefix}LOG:  database system is ready to accept connections`),
      `${prefix}LOG:  database system is ready to accept connections`,
    );
    assert.equal(loggablePostgresLine(`${prefix}FATAL:  terminating connection due to administrator command`) !== null, true);
    for (const line of [
      `${prefix}ERROR:  invalid input syntax for type uuid: "PERSON-MARKER"`,
      `${prefix}DETAIL:  Token "PERSON-MARKER" is invalid.`,
      `${prefix}CONTEXT:  JSON data, line 1: {"email": "PERSON-MARKER`,
      `${prefix}STATEMENT:  INSERT INTO personal_data_record VALUES ('PERSON-MARKER')`,
      `${prefix}LOG:  statement: SELECT 'PERSON-MARKER'`,
      `${prefix}LOG:  duration: 1.2 ms  execute <unnamed>: SELECT $1`,
      `\tcontinued line with "PERSON-MARKER"`,
      "",
    ]) {
      assert.equal(loggablePostgresLine(line), null, line);
    }
  });

  it("carries no value of a failed statement, while the server's events arrive", async () => {
    const lines: string[] = [];
    const log = createLogger("debug", new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const dir = await mkdtemp(join(tmpdir(), "custodian-pglog-"));
    const server = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), database: "custodian_log", log });
    try {
      const client = new Client({ connectionString: server.url });
      await client.connect();
      await client.query(`SELECT '{"email": "PERSON-MARKER-1'::jsonb`).catch(() => undefined);
      await client.query(`SELECT 'PERSON-MARKER-2'::uuid`).catch(() => undefined);
      await client.end();
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
    const text = lines.join("");
    assert.match(text, /database system is ready to accept connections/, "the forwarder forwards");
    assert.doesNotMatch(text, /PERSON-MARKER/);
  });
});
