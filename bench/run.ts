/**
 * `npm run bench -- NAME`: runs bench/NAME.ts, whose `run()` returns the measurements, and
 * prints exactly one JSON line `{ "bench": NAME, ...result }` on stdout. Progress and logs go to
 * stderr (console.log is sent there too while the bench runs). Unknown name: lists the benches, exit 2.
 */
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

type Bench = { run(): Promise<Record<string, unknown>> };

function available(): string[] {
  const dir = fileURLToPath(new URL(".", import.meta.url));
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && f !== "run.ts")
    .map((f) => f.slice(0, -3))
    .sort();
}

function finish(line: string, code: number): void {
  // Exit once the line is written: open handles (pools, timers) must not keep the process alive.
  process.stdout.write(line, () => process.exit(code));
}

async function main() {
  const name = process.argv[2];
  const benches = available();
  if (!name || !benches.includes(name)) {
    console.error(`${name ? `unknown bench "${name}"` : "no bench named"}; available: ${benches.join(", ") || "(none)"}`);
    console.error("usage: npm run bench -- NAME");
    process.exit(2);
  }
  // Only the result line may reach stdout.
  console.log = console.error;
  console.info = console.error;
  const mod = (await import(new URL(`./${name}.ts`, import.meta.url).href)) as Partial<Bench>;
  if (typeof mod.run !== "function") throw new Error(`bench/${name}.ts does not export run()`);
  const started = performance.now();
  const result = await mod.run();
  console.error(`bench ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  finish(`${JSON.stringify({ bench: name, ...result })}\n`, 0);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
