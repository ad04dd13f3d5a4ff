/**
 * `npm run bench -- ingress`: an app host end to end, against one server (in a process of its own,
 * as in a container) reached three ways in the same run:
 *
 *   ingress  client → control plane's HTTP server (router: label, access) → hub → data websocket → agent process → server
 *   relay    client → plain node:net TCP relay → server (the baseline any Node proxy pays)
 *   direct   client → server (the ceiling)
 *
 * Figures: small-request latency p50/p99 (sequential, keep-alive) through the ingress and direct,
 * and what the ingress adds at p50; a 256 MB download (MB/s) and requests/s of 64 concurrent
 * keep-alive clients (BENCH_SECONDS each, default 3), each three ways, the median of BENCH_ROUNDS
 * (default 3) rounds, with their ingress/relay ratios; and the memory of an idle websocket held through the ingress, at 1,000 of them, in the
 * control plane (this process's heap and buffers after a full collection, less the clients' own
 * share, measured with 1,000 held directly) and in the agent (its RSS). Uses the PostgreSQL of
 * DATABASE_URL (default: the machine's) as production does.
 */
import { loadavg } from "node:os";
import WebSocket from "ws";
import { MAX_STREAM_WINDOW, STREAM_WINDOW } from "../shared/streams/mux";
import { startControlPlane } from "../test/support/control-plane";
import { signedInUser } from "../test/support/harness";
import { seedInstance } from "../test/support/ingress";
import { POSTGRES_ADMIN_URL } from "../test/support/local-services";
import { agentProcess, heldMemory, newHost, restartAgent, rssOf, until } from "../test/support/streams";
import { Child, envInt, p50, p99, progress, round } from "./support/common";
import { latencies, medianRounds, type Path } from "./support/http-paths";
import { plainConnect, portOf, relayServer } from "./support/relay";

const say = progress("ingress");
const IDLE_WEBSOCKETS = 1000;

/** Opens `count` websockets on `path` (50 at a time), runs `measure` while they are held, closes them. */
async function holdingWebSockets<T>(path: Path, count: number, measure: () => Promise<T>): Promise<T> {
  const held: WebSocket[] = [];
  try {
    for (let i = 0; i < count; i += 50) {
      const batch = Array.from({ length: Math.min(50, count - i) }, () => new WebSocket(`ws://127.0.0.1:${path.port}/`, { headers: { host: path.host }, perMessageDeflate: false }));
      held.push(...batch);
      await Promise.all(batch.map((ws) => new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject))));
    }
    await new Promise((r) => setTimeout(r, 1000));
    return await measure();
  } finally {
    for (const ws of held) ws.terminate();
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function run() {
  const seconds = envInt("BENCH_SECONDS", 3);
  const rounds = envInt("BENCH_ROUNDS", 3);
  const samples = envInt("BENCH_SAMPLES", 2000);
  process.env.DATABASE_URL ??= POSTGRES_ADMIN_URL;
  const server = new Child("container-server", process.execPath, ["--import", "tsx", "bench/support/container-server.ts"], {});
  const serverPort = Number((await server.waitFor((l) => typeof l.port === "number")).port);
  // Logging as in production (info): the tests' debug level writes a line for every proxied request.
  const cp = await startControlPlane({ queue: "memory", dialer: "streams", config: { logLevel: "info" } });
  const host = await newHost(cp, "bench-ingress");
  const agent = agentProcess(cp, host.token);
  const relay = await relayServer(serverPort, plainConnect);
  try {
    await until(() => cp.streams.connectedHosts().includes(host.hostId), 30_000, "the agent's data connection");
    const owner = await signedInUser(cp.h);
    await seedInstance(cp.h.services.db, owner.userId, { hostId: host.hostId, ipv4: "127.0.0.1" });
    const name = `bench-${Math.random().toString(36).slice(2, 8)}`;
    const created = await cp.h.call("POST", "/api/v1/apps", { body: { name, port: serverPort, access: "public" }, headers: { cookie: owner.cookie } });
    if (created.status !== 201) throw new Error(`publish the app: ${created.status} ${await created.text()}`);
    const cpPort = Number(new URL(cp.url).port);
    const paths: Record<"ingress" | "relay" | "direct", Path> = {
      ingress: { port: cpPort, host: `${name}.localhost:${cpPort}` },
      relay: { port: portOf(relay), host: `127.0.0.1:${portOf(relay)}` },
      direct: { port: serverPort, host: `127.0.0.1:${serverPort}` },
    };

    const ingressLatency = await latencies(paths.ingress, samples);
    const directLatency = await latencies(paths.direct, samples);
    say(`latency p50: ingress ${p50(ingressLatency)} ms, direct ${p50(directLatency)} ms`);

    const { download, requests } = await medianRounds(paths, { rounds, seconds, say });
    // Memory last: a forced full collection leaves this process slower for a while (a 256 MB
    // download through the plain relay ran at 430 MB/s after one, 1,000 MB/s without), and the
    // agent starts again so that its RSS has not grown (and may later shrink) with the transfers.
    await restartAgent(cp, agent, host.hostId);
    const clientsOnly = await heldMemory();
    const clientsHeld = await holdingWebSockets(paths.direct, IDLE_WEBSOCKETS, heldMemory);
    const clientShare = (clientsHeld - clientsOnly) / IDLE_WEBSOCKETS;
    const before = { cp: await heldMemory(), agent: rssOf(agent.pid!) };
    const held = await holdingWebSockets(paths.ingress, IDLE_WEBSOCKETS, async () => ({ cp: await heldMemory(), agent: rssOf(agent.pid!) }));
    const idle = { controlPlane: (held.cp - before.cp) / IDLE_WEBSOCKETS - clientShare, agent: (held.agent - before.agent) / IDLE_WEBSOCKETS };
    say(`idle websocket: control plane ${Math.round(idle.controlPlane)} B, agent ${Math.round(idle.agent)} B (the client's own ${Math.round(clientShare)} B taken off)`);

    return {
      small_request_ms: {
        ingress: { p50: p50(ingressLatency), p99: p99(ingressLatency) },
        direct: { p50: p50(directLatency), p99: p99(directLatency) },
        added_p50: round(p50(ingressLatency) - p50(directLatency), 3),
        samples,
      },
      download_256MB_MBps: download,
      requests_per_s_64_concurrent: requests,
      rounds,
      ratio_to_relay: { download: round(download.ingress! / download.relay!), requests: round(requests.ingress! / requests.relay!) },
      idle_websocket_bytes: { control_plane: Math.round(idle.controlPlane), agent: Math.round(idle.agent), websockets: IDLE_WEBSOCKETS },
      window_bytes: { initial: STREAM_WINDOW, max: MAX_STREAM_WINDOW },
      loadavg_1m: round(loadavg()[0]!),
    };
  } finally {
    relay.close();
    await agent.stop("SIGTERM").catch(() => agent.stop("SIGKILL"));
    await cp.close();
    await server.stop();
  }
}
