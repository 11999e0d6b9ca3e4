// Installs what only the benchmark uses (bench/package.json: PostGraphile 5 and the Node 22 it
// runs on) on first use, from bench/package-lock.json, so `npm install` stays lean.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const bench = join(dirname(dirname(fileURLToPath(import.meta.url))), "bench");
if (!existsSync(join(bench, "node_modules", "postgraphile", "package.json")) || !existsSync(join(bench, "node_modules", "node", "bin", "node"))) {
  console.error("# installing the benchmark's own dependencies (bench/package.json: PostGraphile 5, Node 22), once");
  const npm = process.env.npm_execpath;
  const [command, args] = npm && npm.endsWith(".js") ? [process.execPath, [npm]] : ["npm", []];
  const install = spawnSync(command, [...args, "ci", "--prefix", bench, "--no-audit", "--no-fund"], { stdio: ["ignore", "inherit", "inherit"] });
  if (install.status !== 0) process.exit(install.status ?? 1);
}
