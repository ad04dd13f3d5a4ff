/**
 * `npm run build:edge`: bundles functions/edge.ts into one ES module for workerd
 * (dist/edge/worker.js by default, or the path given as the first argument).
 *
 * Resolution picks the Worker builds of packages (`workerd`/`worker` export conditions: the
 * postgres driver's one speaks TCP through `cloudflare:sockets`). `node:*` stays external and is
 * provided by the `nodejs_compat` flag. The build fails when a Node-only package or module
 * slipped into the bundle, rather than failing at the first request in production.
 */
import { mkdir } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
export const defaultEdgeOutfile = resolve(root, "dist/edge/worker.js");

/** Packages that only run on Node: none may be in the edge bundle. */
const NODE_ONLY_PACKAGES = ["@electric-sql/pglite", "nodemailer", "amqplib", "ws", "ioredis", "@hono/node-server"];
/** Node modules that nodejs_compat does not give a Worker (or gives only as stubs). */
const NODE_ONLY_MODULES = /^node:(fs|fs\/promises|child_process|cluster|dgram|http2|inspector|module|net|os|readline|repl|tls|v8|vm|worker_threads)$/;

export interface EdgeBuild {
  outfile: string;
  bytes: number;
  metafile: Metafile;
}

export async function buildEdgeWorker(outfile: string = defaultEdgeOutfile): Promise<EdgeBuild> {
  const out = resolve(outfile);
  await mkdir(dirname(out), { recursive: true });
  const result = await build({
    entryPoints: [resolve(root, "functions/edge.ts")],
    outfile: out,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "import"],
    mainFields: ["module", "main"],
    external: ["cloudflare:sockets", "node:*"],
    tsconfig: resolve(root, "tsconfig.json"),
    metafile: true,
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "silent",
  });
  const problems: string[] = [];
  for (const input of Object.keys(result.metafile.inputs)) {
    const pkg = NODE_ONLY_PACKAGES.find((p) => input.includes(`node_modules/${p}/`));
    if (pkg) problems.push(`${input} (Node-only package ${pkg})`);
  }
  for (const [input, { imports }] of Object.entries(result.metafile.inputs)) {
    for (const i of imports) {
      if (i.external && NODE_ONLY_MODULES.test(i.path)) problems.push(`${input} imports ${i.path}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`the edge bundle pulls in Node-only code:\n${[...new Set(problems)].map((p) => `  - ${p}`).join("\n")}`);
  }
  const bytes = result.metafile.outputs[relative(process.cwd(), out)]?.bytes ??
    Object.entries(result.metafile.outputs).find(([p]) => resolve(p) === out)?.[1].bytes ??
    0;
  return { outfile: out, bytes, metafile: result.metafile };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildEdgeWorker(process.argv[2])
    .then(({ outfile, bytes }) => {
      console.log(`edge worker: ${relative(process.cwd(), outfile)} (${(bytes / 1024).toFixed(0)} KiB)`);
    })
    .catch((err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    });
}
