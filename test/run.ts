/**
 * Runs every test file under test/ with Node's own test runner (tsx as the loader).
 * Node 20's --test does not expand globs, so the files are listed here.
 * Extra arguments narrow the run: `npm test -- auth` runs files whose path contains "auth".
 */
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

function find(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith(".test.ts") || name.endsWith(".test.tsx") ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const root = new URL(".", import.meta.url).pathname;
const files = find(root)
  .map((f) => relative(process.cwd(), f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}

const started = Date.now();
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-reporter=spec", ...files],
  { stdio: "inherit" },
);
console.log(`test files: ${files.length}, wall time: ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(result.status ?? 1);
