/**
 * `npm run bench -- ingress-transport`: the agents' streams (functions/streams/hub.ts ⇄
 * agent/streams) against a plain node:net TCP relay on the same path and against no relay at all.
 *
 *   streams  client → TCP listener here → hub.dial → data websocket → agent process → target
 *   relay    client → TCP listener here → net.connect → target
 *   direct   client → target
 *
 * Figures: a 256 MB download (MB/s), 64 concurrent small request/response exchanges on a new
 * connection each (requests/s, BENCH_SECONDS each, default 5), their streams/relay ratios, and the
 * memory of an idle stream on each side with 1,000 held open (hub: this process's heap and
 * buffers after a full collection; agent: its RSS). Needs PostgreSQL and RabbitMQ as the tests do.
 */
import { connect, type Socket } from "node:net";
import { loadavg } from "node:os";
import { MAX_STREAM_WINDOW, STREAM_WINDOW } from "../shared/streams/mux";
import { startControlPlane } from "../test/support/control-plane";
import { agentProcess, idleStreamMemory, newHost, pong, restartAgent, tcpServer, until } from "../test/support/streams";
import { envInt, progress, round } from "./support/common";
import { plainConnect, portOf, relayServer, type Opener } from "./support/relay";

const say = progress("ingress-transport");
const DOWNLOAD_BYTES = 256 * 1024 * 1024;
const CONCURRENCY = 64;

async function downloadMBps(port: number): Promise<number> {
  const started = performance.now();
  const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  socket.end();
  let bytes = 0;
  for await (const chunk of socket) bytes += (chunk as Buffer).length;
  if (bytes !== DOWNLOAD_BYTES) throw new Error(`downloaded ${bytes} of ${DOWNLOAD_BYTES} bytes`);
  return bytes / 1e6 / ((performance.now() - started) / 1000);
}

function exchange(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ port, host: "127.0.0.1" });
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    socket.once("end", () => (answer === "pong:x\n" ? resolve() : reject(new Error(`answer ${JSON.stringify(answer)}`))));
    socket.once("error", reject);
    socket.write("x\n");
  });
}

async function requestsPerSecond(port: number, seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await exchange(port);
        done += 1;
      }
    }),
  );
  return done / seconds;
}

export async function run() {
  const seconds = envInt("BENCH_SECONDS", 5);
  const cp = await startControlPlane({ queue: "amqp" });
  const host = await newHost(cp, "bench-streams");
  const agent = agentProcess(cp, host.token);
  try {
    await until(() => cp.streams.connectedHosts().includes(host.hostId), 30_000, "the agent's data connection");
    const chunk = Buffer.alloc(64 * 1024, 5);
    const source = await tcpServer((socket) => {
      let sent = 0;
      const pump = () => {
        while (sent < DOWNLOAD_BYTES) {
          sent += chunk.length;
          if (!socket.write(chunk)) return void socket.once("drain", pump);
        }
        socket.end();
      };
      pump();
    });
    const answers = await tcpServer(pong);
    const viaStreams: Opener = (port) => cp.streams.dial({ hostId: host.hostId, address: "127.0.0.1", port });
    const paths = {
      streams: { download: portOf(await relayServer(source.port, viaStreams)), requests: portOf(await relayServer(answers.port, viaStreams)) },
      relay: { download: portOf(await relayServer(source.port, plainConnect)), requests: portOf(await relayServer(answers.port, plainConnect)) },
      direct: { download: source.port, requests: answers.port },
    };
    const download: Record<string, number> = {};
    const requests: Record<string, number> = {};
    for (const [name, ports] of Object.entries(paths)) {
      await downloadMBps(ports.download); // warm-up: JIT, TCP windows
      download[name] = round(await downloadMBps(ports.download), 1);
      say(`${name}: download ${download[name]} MB/s`);
      requests[name] = round(await requestsPerSecond(ports.requests, seconds), 0);
      say(`${name}: ${requests[name]} requests/s`);
    }
    // Last, as in the ingress bench: a forced full collection slows this process for a while, and
    // the agent starts again so that its RSS has not grown (and may later shrink) with the transfers.
    await restartAgent(cp, agent, host.hostId);
    const idle = await idleStreamMemory(cp.streams, host.hostId, agent.pid!, 1000);
    say(`idle stream: hub ${Math.round(idle.hub)} B, agent ${Math.round(idle.agent)} B`);
    return {
      window_bytes: { initial: STREAM_WINDOW, max: MAX_STREAM_WINDOW },
      download_MBps: download,
      requests_per_s: requests,
      ratio_to_relay: { download: round(download.streams! / download.relay!), requests: round(requests.streams! / requests.relay!) },
      idle_bytes_per_stream: { hub: Math.round(idle.hub), agent: Math.round(idle.agent), streams: 1000 },
      loadavg_1m: round(loadavg()[0]!),
    };
  } finally {
    await agent.stop("SIGTERM").catch(() => agent.stop("SIGKILL"));
    await cp.close();
  }
}
