import { ConfigError, parseConfig, type Config } from "../shared/config";

/**
 * The configuration of a Node entry point, or exit 1 with a message naming each wrong variable.
 * `require` adds the entry's own demands (e.g. a separate gateway needs the shared services).
 */
export function configOrExit(require: (config: Config) => string[] = () => []): Config {
  try {
    const config = parseConfig(process.env);
    const problems = require(config);
    if (problems.length > 0) throw new ConfigError(problems);
    return config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}

/** Runs an entry point; a failed start is one JSON line and exit 1, never a bare stack. */
export function runMain(what: string, main: () => Promise<void>) {
  main().catch((err) => {
    console.error(JSON.stringify({ level: "error", msg: `${what} failed to start`, error: err instanceof Error ? err.message : String(err) }));
    process.exit(1);
  });
}

/** SIGTERM and SIGINT run `stop` once, then exit 0. */
export function onShutdown(stop: (signal: string) => Promise<void>) {
  let stopping = false;
  const handle = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stop(signal).then(
      () => process.exit(0),
      (err) => {
        console.error(JSON.stringify({ level: "error", msg: "stop failed", error: err instanceof Error ? err.message : String(err) }));
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => handle("SIGTERM"));
  process.on("SIGINT", () => handle("SIGINT"));
}
