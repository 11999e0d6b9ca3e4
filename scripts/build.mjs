// Builds dist/ incrementally: tsc's own incremental build (a no-op when nothing changed, its state
// in dist/.tsbuildinfo), then removes what sources deleted since left behind, so `node --test dist/`
// never runs a test whose source is gone. Plain JavaScript: it runs before anything is compiled.
// tsc, not a loader built on esbuild or type stripping: those drop the decorator metadata that
// type-graphql and TypeORM read.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, "dist");

// Our own mark of the last build (tsc's .tsbuildinfo is also written by `tsc --noEmit`, which emits nothing).
const built = join(dist, ".built");
const sources = ["src", "test", "migrations", "scripts", "bench", "drill", "ormconfig.ts", "tsconfig.json", "package-lock.json"];

/** True when a source file or folder (an added or deleted file changes its folder) is newer than the last build. */
function changedSince(builtAt, path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return false;
  if (stat.mtimeMs > builtAt) return true;
  if (!stat.isDirectory()) return false;
  return readdirSync(path).some((entry) => entry !== "node_modules" && changedSince(builtAt, join(path, entry)));
}

// Nothing changed since the last build: not even tsc's own check (2 s here) runs.
const builtAt = statSync(built, { throwIfNoEntry: false })?.mtimeMs;
if (builtAt === undefined || sources.some((path) => changedSince(builtAt, join(root, path)))) {
  const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.json")], { stdio: "inherit" });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  writeFileSync(built, `${new Date().toISOString()}\n`);
}

/** dist/a/b.js and its map, when a/b.ts is gone. */
function prune(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      prune(path);
      continue;
    }
    const compiled = /^(.*)\.js(\.map)?$/.exec(relative(dist, path));
    if (compiled && !existsSync(join(root, `${compiled[1]}.ts`))) rmSync(path);
  }
}
prune(dist);
