/**
 * The import rules of the tree (issue #17): shared/ is what more than one deployable needs, so it
 * imports none of them; the agent and the control plane share only shared/; the generic server core
 * (functions/core/: the job store, address leases, locks, API errors) knows no capability. Each file's imports are read
 * with TypeScript's own pre-processor: static imports, re-exports and dynamic import() alike.
 * The `kws` CLI (cli/) is a deployable of its own that talks to the control plane over HTTP only:
 * it may name the API's types (`import type`), never load server code.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import ts from "typescript";

const root = resolve(dirname(new URL(import.meta.url).pathname), "../..");

function sources(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(root, dir));
  } catch {
    return []; // a folder the tree does not have (yet)
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** The tree-relative paths a file imports (relative specifiers only: packages are not the tree's). */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(root, file), "utf8"), true, true);
  return importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => relative(root, resolve(root, dirname(file), spec)));
}

/** The imports of a file that load code when it runs: `import type` and all-type named imports left out. */
function runtimeImportsOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(join(root, file), "utf8"), ts.ScriptTarget.Latest, true);
  const allTypes = (named: ts.NamedImportBindings | ts.NamedExportBindings | undefined) =>
    named !== undefined && ts.isNamedImports(named) ? named.elements.every((e) => e.isTypeOnly) : named !== undefined && ts.isNamedExports(named) && named.elements.every((e) => e.isTypeOnly);
  const specs: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      if (!clause || !(clause.isTypeOnly || (!clause.name && allTypes(clause.namedBindings)))) specs.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!(node.isTypeOnly || allTypes(node.exportClause))) specs.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      specs.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specs.filter((spec) => spec.startsWith(".")).map((spec) => relative(root, resolve(root, dirname(file), spec)));
}

const inside = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);

/** Every import of a file under `from` that lands in one of `forbidden` (and in none of `allowed`), as "file → import". */
function violations(from: string, forbidden: string[], allowed: string[] = []): string[] {
  return sources(from).flatMap((file) =>
    importsOf(file)
      .filter((target) => forbidden.some((f) => inside(target, f)) && !allowed.some((a) => inside(target, a)))
      .map((target) => `${file} → ${target}`),
  );
}

test("the import reader sees static imports, re-exports and dynamic import()", () => {
  const { importedFiles } = ts.preProcessFile('import a from "./a";\nexport { b } from "../b";\nconst c = await import("./c");\nimport "./d";', true, true);
  assert.deepEqual(importedFiles.map((f) => f.fileName).sort(), ["../b", "./a", "./c", "./d"]);
});

test("nothing in shared/ imports a deployable (functions/, agent/, main/)", () => {
  assert.deepEqual(violations("shared", ["functions", "agent", "main", "test", "bench", "scripts"]), []);
});

test("the agent imports nothing from the control plane (functions/, main/)", () => {
  assert.deepEqual(violations("agent", ["functions", "main"]), []);
});

test("the control plane imports nothing from the agent (agent/, main/): they share only shared/", () => {
  assert.deepEqual(violations("functions", ["agent", "main"]), []);
});

test("the server core (functions/core/: the generic job store, address leases, locks, API errors) imports no capability", () => {
  assert.ok(sources("functions/core/jobs").some((f) => f.endsWith("store.ts")), "the generic job store is in functions/core/jobs");
  assert.deepEqual(violations("functions/core", ["functions"], ["functions/core"]), []);
});

test("the runtime-import reader leaves out type-only imports and re-exports", () => {
  const dir = mkdtempSync(join(tmpdir(), "kws-imports-"));
  const file = join(dir, "probe.ts");
  writeFileSync(file, 'import type { A } from "./a";\nimport { type B } from "./b";\nimport { C, type D } from "./c";\nexport type { E } from "./e";\nexport * from "./f";\nawait import("./g");\nimport "./h";\n');
  try {
    assert.deepEqual(runtimeImportsOf(relative(root, file)).map((p) => p.slice(relative(root, dir).length + 1)).sort(), ["c", "f", "g", "h"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the CLI (cli/) loads no server code: from functions/ it names types only, nothing of agent/, main/, scripts/, test/ or bench/", () => {
  assert.ok(sources("cli").some((f) => f.endsWith("main.ts")), "the CLI's entry is cli/main.ts");
  const runtime = sources("cli").flatMap((file) => runtimeImportsOf(file).filter((t) => inside(t, "functions")).map((t) => `${file} → ${t}`));
  assert.deepEqual(runtime, []);
  assert.deepEqual(violations("cli", ["agent", "main", "scripts", "test", "bench"]), []);
});

test("no deployable imports the CLI", () => {
  for (const from of ["shared", "functions", "agent", "main"]) assert.deepEqual(violations(from, ["cli"]), []);
});
