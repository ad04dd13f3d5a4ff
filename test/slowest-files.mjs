/**
 * A test reporter (test/run.ts adds it beside spec; plain JavaScript because node loads reporters
 * before tsx): at the end, the ten files whose top-level tests took longest, so the suite's
 * 20-minute budget is kept by looking, not guessing.
 *
 * @param {AsyncIterable<{ type: string, data: { nesting?: number, file?: string, details?: { duration_ms?: number } } }>} source
 */
export default async function* slowestFiles(source) {
  /** @type {Map<string, number>} */
  const byFile = new Map();
  for await (const event of source) {
    if ((event.type !== "test:pass" && event.type !== "test:fail") || event.data.nesting !== 0 || !event.data.file) continue;
    byFile.set(event.data.file, (byFile.get(event.data.file) ?? 0) + (event.data.details?.duration_ms ?? 0));
  }
  const slowest = [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 10);
  yield "slowest test files (their top-level tests, in seconds):\n";
  for (const [file, ms] of slowest) yield `  ${(ms / 1000).toFixed(0).padStart(5)}  ${file.replace(`${process.cwd()}/`, "")}\n`;
}
