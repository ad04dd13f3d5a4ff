/**
 * `npm run bench -- deploy`: how long a person waits for their instance.
 *
 * 1. A bare busybox instance (KWS_INSTANCE_PROVISION=false) from the API request to "running"
 *    (the deploy job seen succeeded, so committed, polling every 10 ms: created, started, its address
 *    up), against the same create + start + address done directly on the LXD socket in the same
 *    run, alternating. Target ratio ≤ 1.15.
 * 2. The Debian image with code-server on a warm host (image present): API request to code-server
 *    answering on the instance's address (target ≤ 15 s), and start of the stopped instance to
 *    code-server answering (target ≤ 5 s).
 * Both pipelines (a control plane and an agent each, on this machine's LXD) start before either is measured.
 */
import { waitForAddress } from "../agent/handlers/instance-support";
import { bodyAt } from "../test/support/api";
import { Pipeline } from "../test/support/pipeline";
import { answers } from "../test/support/instance-checks";
import { envInt, p50, progress, round, runBench, sleep, type Cleanups } from "./support/common";

const log = progress("deploy");
const MEMORY_MB = 256;
const bareEnv = { KWS_BRIDGE_RANGE: "172.30.0.140-172.30.0.149", KWS_INSTANCE_IMAGE: "kws/busybox", KWS_INSTANCE_PROVISION: "false", KWS_INSTANCE_MEMORY_MB: String(MEMORY_MB) };
const codeServerEnv = { KWS_BRIDGE_RANGE: "172.30.0.150-172.30.0.159", KWS_INSTANCE_IMAGE: "kws/debian-12", KWS_HOST_MEMORY_RESERVE_MB: "512" };

async function untilTrue(check: () => Promise<boolean>, everyMs: number, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The job once it is seen final (so after its commit), polled every `everyMs`; throws unless it succeeded. */
async function finalJob(p: Pipeline, id: string, token: string, everyMs = 10) {
  let job = await p.job(id, token);
  await untilTrue(async () => ["succeeded", "failed"].includes((job = await p.job(id, token)).status), everyMs, 300_000, `job ${id}`);
  if (job.status !== "succeeded") throw new Error(`job ${job.kind} failed: ${JSON.stringify(job.error)}`);
  return job;
}

async function kill(p: Pipeline, token: string) {
  const res = await p.api("DELETE", "/instance", undefined, token);
  if (res.status === 202) await finalJob(p, res.body.job.id, token, 200);
}

async function deploy(p: Pipeline, token: string): Promise<string> {
  return bodyAt(await p.api("POST", "/instance", { username: "bench", password: "Bench-Mark-123" }, token), 202).job.id;
}

/** A pipeline with one user, removed with the cleanups whatever happened. */
async function pipeline(env: Record<string, string>, cleanups: Cleanups) {
  const p = await Pipeline.start({ env });
  cleanups.add("pipeline", () => p.close());
  const token = await p.userToken();
  cleanups.add("instance", () => kill(p, token));
  await p.until(async () => (await p.hostRow()).facts !== null, 20_000, "facts");
  return { p, token };
}

/** API request → the deploy job seen succeeded, against create + start + address on the LXD socket, alternating. */
async function bare({ p, token }: { p: Pipeline; token: string }, rounds: number) {
  const api: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await finalJob(p, await deploy(p, token), token);
    api.push(performance.now() - t);
    await kill(p, token);

    const name = `kws-bench-direct-${Date.now().toString(36)}`;
    const address = "172.30.0.149";
    const t0 = performance.now();
    await p.lxd.createInstance({
      name,
      image: "kws/busybox",
      config: { "security.nesting": "true", "limits.memory": `${MEMORY_MB}MB` },
      devices: { eth0: { type: "nic", name: "eth0", network: "lxdbr0", "ipv4.address": address }, root: { type: "disk", path: "/", pool: "kws-btrfs" } },
    });
    await p.lxd.startInstance(name);
    await waitForAddress(p.lxd, { name, address, network: "lxdbr0" }, new AbortController().signal);
    direct.push(performance.now() - t0);
    await p.lxd.stopInstance(name, { force: true, timeoutSeconds: 10 });
    await p.lxd.deleteInstance(name);
    log(`round ${i + 1}: api ${Math.round(api.at(-1)!)} ms, direct ${Math.round(direct.at(-1)!)} ms`);
  }
  return { api, direct };
}

/** API request → code-server answering; start of the stopped instance → code-server answering. */
async function codeServer({ p, token }: { p: Pipeline; token: string }, rounds: number) {
  const deployed: number[] = [];
  const start: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let t0 = performance.now();
    const jobId = await deploy(p, token);
    const { ip } = bodyAt(await p.api("GET", "/instance", undefined, token), 200);
    if (!ip) throw new Error("a deployed instance without an address");
    await untilTrue(async () => (await answers(ip)) || (await p.job(jobId, token)).status === "failed", 100, 120_000, "code-server after deploy");
    deployed.push(performance.now() - t0);
    await finalJob(p, jobId, token, 200);

    await finalJob(p, bodyAt(await p.api("POST", "/instance/stop", undefined, token), 202).job.id, token, 200);
    t0 = performance.now();
    const started = await p.api("POST", "/instance/start", undefined, token);
    await untilTrue(() => answers(ip), 100, 60_000, "code-server after start");
    start.push(performance.now() - t0);
    await finalJob(p, bodyAt(started, 202).job.id, token, 200);
    await kill(p, token);
    log(`round ${i + 1}: deploy→code-server ${Math.round(deployed.at(-1)!)} ms, start→code-server ${Math.round(start.at(-1)!)} ms`);
  }
  return { deploy: deployed, start };
}

export function run() {
  return runBench(log, {
    async setup(cleanups) {
      return { bare: await pipeline(bareEnv, cleanups), codeServer: await pipeline(codeServerEnv, cleanups) };
    },
    async measure(pipelines) {
      return {
        bare: await bare(pipelines.bare, envInt("BENCH_DEPLOY_ROUNDS", 9)),
        codeServer: await codeServer(pipelines.codeServer, envInt("BENCH_CODE_SERVER_ROUNDS", 3)),
      };
    },
    report({ bare, codeServer }) {
      const ratio = round(p50(bare.api) / p50(bare.direct), 3);
      const deployMs = Math.round(p50(codeServer.deploy));
      const startMs = Math.round(p50(codeServer.start));
      return {
        bareApiP50Ms: Math.round(p50(bare.api)),
        bareDirectLxdP50Ms: Math.round(p50(bare.direct)),
        ratio,
        codeServerDeployP50Ms: deployMs,
        codeServerStartP50Ms: startMs,
        met: { ratio: ratio <= 1.15, deploy: deployMs <= 15_000, start: startMs <= 5_000 },
      };
    },
  });
}
