import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

const ROOT = join(__dirname, "..", "..", "..");
const UPSTREAM = join(ROOT, "..", "shared", "spec");

/**
 * The rules and the next contract travel with the code (docs/DOMAIN.md, schema/contract-next.graphql),
 * so a user of the repository has them. While the upstream spec sits beside the checkout, each copy
 * holds it: the contract exactly; the rules as their start (rules the issues add come after).
 */
describe("the copies of the spec in the repository", { skip: !existsSync(UPSTREAM) && "no ../shared/spec here" }, () => {
  it("schema/contract-next.graphql is the upstream one", () => {
    assert.equal(
      readFileSync(join(ROOT, "schema", "contract-next.graphql"), "utf8"),
      readFileSync(join(UPSTREAM, "contract-next.graphql"), "utf8"),
      "copy ../shared/spec/contract-next.graphql to schema/contract-next.graphql",
    );
  });

  it("docs/DOMAIN.md starts with the upstream rules", () => {
    const ours = readFileSync(join(ROOT, "docs", "DOMAIN.md"), "utf8");
    const upstream = readFileSync(join(UPSTREAM, "DOMAIN.md"), "utf8");
    assert.ok(ours.startsWith(upstream.trimEnd()), "bring docs/DOMAIN.md up to ../shared/spec/DOMAIN.md (rules added here go after it)");
  });
});
