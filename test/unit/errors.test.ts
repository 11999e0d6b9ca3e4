import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GraphQLError } from "graphql";
import { ArgumentValidationError, AuthorizationError } from "type-graphql";
import { QueryFailedError } from "typeorm";
import { BadUserInputError, DomainError, ErrorCode } from "../../src/shared/errors";
import { formatError, sanitizeRequestErrorMessage } from "../../src/shared/graphql/format-error";
import { loggableError } from "../../src/shared/logging";
import { DatabaseUnavailableError } from "../../src/shared/db/topology";

const format = (error: unknown, formatted = { message: (error as Error).message }) => formatError(formatted, error, { debug: false });

describe("formatError (the one place errors are shaped)", () => {
  it("passes a rule's refusal through with its code and field", () => {
    assert.deepEqual(format(new BadUserInputError("name", "name is blank")).extensions, { code: "BAD_USER_INPUT", field: "name" });
    assert.equal(format(new DomainError(ErrorCode.RESIDENCY_VIOLATION, "r")).extensions?.code, "RESIDENCY_VIOLATION");
  });

  it("names the location and which of its databases is unavailable: its data or its key store, also once wrapped", () => {
    const keys = new DatabaseUnavailableError("EU", { cause: new Error("connect ECONNREFUSED 127.0.0.1:1"), part: "key store" });
    for (const error of [keys, new DatabaseUnavailableError("EU", { cause: keys })]) {
      const formatted = format(error);
      assert.match(formatted.message, /^The EU storage location's key store is unavailable/);
      assert.deepEqual(formatted.extensions, { code: "INTERNAL_SERVER_ERROR", retryable: true, storageLocation: "EU" });
    }
    assert.match(format(new DatabaseUnavailableError("US")).message, /^The US storage location's database is unavailable/);
  });

  it("turns class-validator failures into BAD_USER_INPUT naming the nested field, without the value", () => {
    const error = new ArgumentValidationError([
      {
        property: "retentionPolicy",
        children: [{ property: "deletionGraceDays", constraints: { max: "deletionGraceDays must not be greater than 30" }, children: [], value: 4242 }],
      },
    ] as never);
    const formatted = format(error);
    assert.equal(formatted.extensions?.code, "BAD_USER_INPUT");
    assert.equal(formatted.extensions?.field, "retentionPolicy.deletionGraceDays");
    assert.ok(!JSON.stringify(formatted).includes("4242"));
  });

  it("maps type-graphql's UNAUTHORIZED to the contract's FORBIDDEN", () => {
    assert.equal(format(new AuthorizationError()).extensions?.code, "FORBIDDEN");
  });

  it("masks anything unexpected as INTERNAL_SERVER_ERROR with no SQL, value or stack", () => {
    const sqlError = new QueryFailedError(
      "INSERT INTO tenant (name) VALUES ($1)",
      ["secret-person@example.com"],
      Object.assign(new Error("duplicate key"), { code: "23505", detail: "Key (name)=(secret-person@example.com) exists" }),
    );
    for (const error of [
      sqlError,
      new TypeError("cannot read properties of undefined"),
      new GraphQLError("weird", { extensions: { code: "SOMETHING_ELSE" } }),
    ]) {
      const formatted = format(error);
      assert.equal(formatted.extensions?.code, "INTERNAL_SERVER_ERROR");
      assert.equal(formatted.message, "Internal server error.");
      assert.equal(formatted.extensions?.stacktrace, undefined);
      assert.ok(!JSON.stringify(formatted).includes("secret-person"));
      assert.ok(!JSON.stringify(formatted).includes("INSERT"));
    }
  });

  it("keeps stack traces only behind the debug switch", () => {
    const error = new TypeError("boom");
    assert.ok(formatError({ message: "boom" }, error, { debug: true }).extensions?.stacktrace);
    assert.equal(formatError({ message: "boom" }, error, { debug: false }).extensions?.stacktrace, undefined);
  });

  it("says clearly when the database is unreachable", () => {
    const formatted = format(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }));
    assert.equal(formatted.extensions?.code, "INTERNAL_SERVER_ERROR");
    assert.match(formatted.message, /database is unavailable/);
    // A server out of connections (two instances on one server at their peak) passes too: retry.
    const full = format(Object.assign(new Error("sorry, too many clients already"), { code: "53300" }));
    assert.match(full.message, /database is unavailable/);
    assert.equal(full.extensions?.retryable, true);
  });

  it("maps malformed requests to BAD_USER_INPUT and drops quoted values from graphql-js messages", () => {
    const parse = new GraphQLError('Syntax Error: Unexpected Name "x".', { extensions: { code: "GRAPHQL_PARSE_FAILED" } });
    assert.equal(format(parse).extensions?.code, "BAD_USER_INPUT");
    const coercion = sanitizeRequestErrorMessage(
      'Variable "$input" got invalid value "jane@example.com" at "input.name"; String cannot represent a non string value: "jane@example.com"',
    );
    assert.deepEqual(coercion, { message: 'Variable "$input" has an invalid value at "input.name".', field: "input.name" });
    assert.ok(!sanitizeRequestErrorMessage('Expected value of type "Int", found "jane@example.com".').message.includes("jane"));
    assert.ok(!sanitizeRequestErrorMessage('Int cannot represent non-integer value: "jane"').message.includes("jane"));
  });
});

describe("loggableError", () => {
  it("keeps codes and constraint, drops PostgreSQL's detail, the query parameters and quoted input", () => {
    const driver = Object.assign(new Error('invalid input syntax for type uuid: "jane@example.com"'), { code: "22P02", detail: "Key (x)=(jane@example.com)" });
    const logged = JSON.stringify(loggableError(new QueryFailedError("SELECT $1", ["jane@example.com"], driver)));
    assert.match(logged, /22P02/);
    assert.ok(!logged.includes("jane"));
  });

  it("drops the value graphql-js quotes when it cannot coerce one", () => {
    const logged = JSON.stringify(loggableError(new GraphQLError('String cannot represent value: { email: "jane@example.com" }')));
    assert.ok(!logged.includes("jane"));
  });
});
