import { canonicalJson } from "./idempotency";

/**
 * How a correction changed a value, in counts of top-level keys: enough for an auditor to see
 * what kind of change it was, without a key's value (or even its name, which can be data).
 */
export function valueChanges(before: Record<string, unknown>, after: Record<string, unknown>) {
  let added = 0;
  let removed = 0;
  let changed = 0;
  for (const key of Object.keys(after)) {
    // Own keys only: `"constructor" in {}` is true, and removing such a key counted as no change.
    if (!Object.hasOwn(before, key)) added += 1;
    else if (canonicalJson(before[key]) !== canonicalJson(after[key])) changed += 1;
  }
  for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) removed += 1;
  return { changed: added + removed + changed > 0, counts: { keysAdded: added, keysRemoved: removed, keysChanged: changed } };
}
