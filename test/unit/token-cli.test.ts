import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { decodeJwt } from "jose";

const ROOT = join(__dirname, "..", "..", "..");

/** `npm run -s token -- ...args` as the README writes it. */
function token(...args: string[]) {
  const npm =
    process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)
      ? process.env.npm_execpath
      : join(dirname(dirname(process.execPath)), "lib", "node_modules", "npm", "bin", "npm-cli.js");
  return spawnSync(process.execPath, [npm, "run", "-s", "token", "--", ...args], { cwd: ROOT, encoding: "utf8" });
}

describe("npm run -s token", () => {
  it("prints the token and nothing else, so TOKEN=$(...) works", () => {
    const run = token("--role", "OPERATOR");
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    assert.equal(decodeJwt(run.stdout.trim()).role, "OPERATOR");
  });

  it("prints its usage for --help, and refuses an unknown option with it", () => {
    const help = token("--help");
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: npm run -s token -- --role ROLE/m);
    const unknown = token("--rol", "OPERATOR");
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /Unknown option '--rol'[\s\S]*usage:/);
    assert.equal(unknown.stdout, "");
  });
});
