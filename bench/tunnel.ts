/**
 * `npm run bench -- tunnel`: a local server served by `kws tunnel` (the CLI in a process of its
 * own, as on a person's machine), reached three ways in the same run:
 *
 *   tunnel   client → control plane's HTTP server (router: label, access) → tunnel hub → the CLI's websocket → CLI process → server
 *   relay    client → plain node:net TCP relay → server (the baseline any Node proxy pays)
 *   direct   client → server
 *
 * Figures: small-request latency p50/p99 (sequential, keep-alive) through the tunnel and direct,
 * and what the tunnel adds at p50 (target ≤ 2 ms); a 128 MB download (MB/s) and requests/s of 64
 * concurrent keep-alive clients (BENCH_SECONDS each, default 3), each three ways, the median of
 * BENCH_ROUNDS (default 3) rounds, with their tunnel/relay ratios (target: download ≥ 0.4).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane } from "../test/support/control-plane";
import { signedInUser } from "../test/support/harness";
import { POSTGRES_ADMIN_URL } from "../test/support/local-services";
import { until } from "../test/support/streams";
import { Child, envInt, p50, p99, progress, round } from "./support/common";
import { latencies, medianRounds, type Path } from "./support/http-paths";
import { plainConnect, portOf, relayServer } from "./support/relay";

const say = progress("tunnel");
const DOWNLOAD_BYTES = 128 * 1024 * 1024;

export async function run() {
  const seconds = envInt("BENCH_SECONDS", 3);
  const rounds = envInt("BENCH_ROUNDS", 3);
  const samples = envInt("BENCH_SAMPLES", 2000);
  process.env.DATABASE_URL ??= POSTGRES_ADMIN_URL;
  const server = new Child("local-server", process.execPath, ["--import", "tsx", "bench/support/container-server.ts"], {});
  const serverPort = Number((await server.waitFor((l) => typeof l.port === "number")).port);
  const cp = await startControlPlane({ queue: "memory", config: { logLevel: "info" } });
  const relay = await relayServer(serverPort, plainConnect);
  const configDir = mkdtempSync(join(tmpdir(), "kws-bench-tunnel-"));
  let cli: Child | undefined;
  try {
    const owner = await signedInUser(cp.h);
    const made = await cp.h.call("POST", "/api/v1/tokens", { body: { name: "bench" }, headers: { cookie: owner.cookie } });
    if (made.status !== 201) throw new Error(`make a token: ${made.status} ${await made.text()}`);
    const { secret: token } = (await made.json()) as { secret: string };
    const name = `bench-${Math.random().toString(36).slice(2, 8)}`;
    cli = new Child("kws-tunnel", process.execPath, ["--import", "tsx", "cli/main.ts", "tunnel", String(serverPort), "--name", name, "--access", "public"], {
      KWS_URL: cp.url,
      KWS_TOKEN: token,
      KWS_CONFIG_DIR: configDir,
    });
    await until(async () => cli!.text.some((l) => l.startsWith("Serving ")), 30_000, "the tunnel to open");
    const cpPort = Number(new URL(cp.url).port);
    const paths: Record<"tunnel" | "relay" | "direct", Path> = {
      tunnel: { port: cpPort, host: `${name}.localhost:${cpPort}` },
      relay: { port: portOf(relay), host: `127.0.0.1:${portOf(relay)}` },
      direct: { port: serverPort, host: `127.0.0.1:${serverPort}` },
    };

    const tunnelLatency = await latencies(paths.tunnel, samples);
    const directLatency = await latencies(paths.direct, samples);
    say(`latency p50: tunnel ${p50(tunnelLatency)} ms, direct ${p50(directLatency)} ms`);

    const { download, requests } = await medianRounds(paths, { rounds, seconds, size: DOWNLOAD_BYTES, say });
    return {
      small_request_ms: {
        tunnel: { p50: p50(tunnelLatency), p99: p99(tunnelLatency) },
        direct: { p50: p50(directLatency), p99: p99(directLatency) },
        added_p50: round(p50(tunnelLatency) - p50(directLatency), 3),
        samples,
      },
      download_128MB_MBps: download,
      requests_per_s_64_concurrent: requests,
      rounds,
      ratio_to_relay: { download: round(download.tunnel! / download.relay!), requests: round(requests.tunnel! / requests.relay!) },
      targets: { added_p50_ms: 2, download_ratio_to_relay: 0.4 },
      loadavg_1m: round(loadavg()[0]!),
    };
  } finally {
    relay.close();
    await cli?.stop("SIGTERM").catch(() => cli?.stop("SIGKILL"));
    await cp.close();
    await server.stop();
    rmSync(configDir, { recursive: true, force: true });
  }
}
