import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Client } from "pg";
import { byteaArray } from "../../src/shared/db/bytes";
import { suiteDatabaseUrl } from "../helpers/suite-db";

/**
 * bytea[] parameters go to PostgreSQL in its binary array format (sealed values, wrapped keys):
 * what the server reads must be byte for byte what was written, nulls and empty values included,
 * in the statements' own form (`unnest($n::bytea[])`).
 */
describe("bytea arrays sent in binary", () => {
  let client: Client;

  before(async () => {
    client = new Client({ connectionString: await suiteDatabaseUrl() });
    await client.connect();
  });
  after(() => client.end());

  const roundTrip = async (values: Array<Buffer | null>): Promise<Array<Buffer | null>> =>
    (await client.query(`SELECT b FROM unnest($1::bytea[]) WITH ORDINALITY AS u (b, n) ORDER BY n`, [byteaArray(values)])).rows.map(
      (r: { b: Buffer | null }) => r.b,
    );

  it("reads back every element as written: bytes of every value, nulls, an empty value, a large one", async () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const values = [every, null, Buffer.alloc(0), randomBytes(300_000), Buffer.from(`\\x41"'{},`), null];
    assert.deepEqual(await roundTrip(values), values);
  });

  it("reads an empty array as no elements, and a single element as one", async () => {
    assert.deepEqual(await roundTrip([]), []);
    const { rows } = await client.query(`SELECT cardinality($1::bytea[]) AS n, array_ndims($1::bytea[]) AS d`, [byteaArray([])]);
    assert.deepEqual(rows[0], { n: 0, d: null });
    assert.deepEqual(await roundTrip([Buffer.from([0])]), [Buffer.from([0])]);
  });

  it("equals the same array sent as text, element for element (the form it replaces)", async () => {
    const values = [randomBytes(40), null, randomBytes(1)];
    const { rows } = await client.query(`SELECT $1::bytea[] = $2::bytea[] AS same`, [byteaArray(values), values]);
    assert.equal(rows[0].same, true);
  });
});
