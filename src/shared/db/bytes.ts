/** bytea as pg gives it (a Buffer), or as it travels inside a statement's JSON (`\x` and hex); null stays null. */
export function asBytes(value: unknown): Buffer | null {
  if (value == null) return null;
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === "string" && value.startsWith("\\x")) return Buffer.from(value.slice(2), "hex");
  throw new Error("bytes in an unexpected form");
}

const BYTEA_OID = 17;

/**
 * A bytea[] parameter in PostgreSQL's binary array format, for a `$n::bytea[]` placeholder. pg
 * sends a Buffer parameter as binary; an array of Buffers it would send as text, each element
 * hex-encoded and escaped, twice the bytes for the server to parse back (a third of a sealed
 * batch's write). Layout (array_recv): dimensions, has-nulls flag, element type, then per dimension
 * its length and lower bound, then per element its length (-1: null) and bytes.
 */
export function byteaArray(values: ReadonlyArray<Buffer | null>): Buffer {
  if (!values.length) {
    const empty = Buffer.alloc(12);
    empty.writeInt32BE(BYTEA_OID, 8);
    return empty;
  }
  let size = 20;
  let nulls = 0;
  for (const value of values) {
    size += 4 + (value?.length ?? 0);
    if (value === null) nulls = 1;
  }
  const out = Buffer.allocUnsafe(size);
  out.writeInt32BE(1, 0);
  out.writeInt32BE(nulls, 4);
  out.writeInt32BE(BYTEA_OID, 8);
  out.writeInt32BE(values.length, 12);
  out.writeInt32BE(1, 16);
  let at = 20;
  for (const value of values) {
    if (value === null) {
      at = out.writeInt32BE(-1, at);
      continue;
    }
    at = out.writeInt32BE(value.length, at);
    at += value.copy(out, at);
  }
  return out;
}
