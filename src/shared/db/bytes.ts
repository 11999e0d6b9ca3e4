/** bytea as pg gives it (a Buffer), or as it travels inside a statement's JSON (`\x` and hex); null stays null. */
export function asBytes(value: unknown): Buffer | null {
  if (value == null) return null;
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === "string" && value.startsWith("\\x")) return Buffer.from(value.slice(2), "hex");
  throw new Error("bytes in an unexpected form");
}
