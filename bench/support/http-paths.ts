/** HTTP measurements of one way to a server (the ingress benches): sequential latency, a download, concurrent requests. */
import http from "node:http";
import { percentile, round, sample } from "./common";

const DOWNLOAD_BYTES = 256 * 1024 * 1024;
const CONCURRENCY = 64;

/** Where a request goes: the TCP port to connect to and the Host it names. */
export interface Path {
  port: number;
  host: string;
}

function get(path: Path, target: string, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port: path.port, path: target, agent, headers: { host: path.host } }, (res) => {
      let bytes = 0;
      res.on("data", (chunk: Buffer) => (bytes += chunk.length));
      res.on("end", () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`GET ${target} via ${path.host}: ${res.statusCode}`))));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

export async function latencies(path: Path, samples: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await sample(200, () => get(path, "/", agent)); // warm-up
    return await sample(samples, () => get(path, "/", agent));
  } finally {
    agent.destroy();
  }
}

export async function downloadMBps(path: Path, size = DOWNLOAD_BYTES): Promise<number> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    await get(path, `/big?size=${64 * 1024 * 1024}`, agent); // warm-up: JIT, TCP windows
    const started = performance.now();
    const bytes = await get(path, `/big?size=${size}`, agent);
    if (bytes !== size) throw new Error(`downloaded ${bytes} of ${size} bytes via ${path.host}`);
    return bytes / 1e6 / ((performance.now() - started) / 1000);
  } finally {
    agent.destroy();
  }
}

export async function requestsPerSecond(path: Path, seconds: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const until = performance.now() + seconds * 1000;
  let done = 0;
  try {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < until) {
          await get(path, "/", agent);
          done += 1;
        }
      }),
    );
    return done / seconds;
  } finally {
    agent.destroy();
  }
}


/**
 * Rounds over the ways in turn, each figure the median of its rounds: on two shared cores one
 * measurement of a way could land on another process's burst. Answers MB/s of a `size` download
 * and requests/s of 64 concurrent clients (`seconds` each), per way.
 */
export async function medianRounds<W extends string>(
  paths: Record<W, Path>,
  o: { rounds: number; seconds: number; size?: number; say: (line: string) => void },
): Promise<{ download: Record<W, number>; requests: Record<W, number> }> {
  const ways = Object.keys(paths) as W[];
  const downloads = new Map<W, number[]>(ways.map((w) => [w, []]));
  const rates = new Map<W, number[]>(ways.map((w) => [w, []]));
  for (let r = 1; r <= o.rounds; r++) {
    for (const way of ways) {
      downloads.get(way)!.push(await downloadMBps(paths[way], o.size));
      rates.get(way)!.push(await requestsPerSecond(paths[way], o.seconds));
      o.say(`round ${r}, ${way}: download ${round(downloads.get(way)!.at(-1)!, 1)} MB/s, ${round(rates.get(way)!.at(-1)!, 0)} requests/s`);
    }
  }
  const median = (m: Map<W, number[]>, digits: number) => Object.fromEntries(ways.map((w) => [w, round(percentile(m.get(w)!, 50), digits)])) as Record<W, number>;
  return { download: median(downloads, 1), requests: median(rates, 0) };
}
