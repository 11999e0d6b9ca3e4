import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";

// The bench pins Node 22 for PostGraphile (bench/package.json); a `node` package, wherever installed, puts its binary
// first on PATH inside scripts: the scripts call "$NODE" so the suite runs on the machine's Node.
test("the suite runs on the Node that runs npm, not on the bench's pinned Node 22", () => {
  assert.ok(!process.execPath.includes(join("node_modules", "node", "bin")), `tests ran on ${process.execPath}`);
});
