/**
 * N real agents (agent/agent.ts `Agent`) in one process, for bench/dispatch.ts.
 *
 *   BENCH_AGENTS='{"gatewayUrl":"http://127.0.0.1:PORT","stateRoot":"/tmp/…","tokens":["kws_enroll_…", …]}' \
 *     node --import tsx bench/support/agents.ts
 *
 * Each agent enrolls with its one-time token (through agent/enroll.ts, as `kws-agent --enroll`
 * does) and runs with its own state directory under stateRoot. The enrollment requests carry a
 * distinct X-Forwarded-For each (the control plane runs with TRUST_PROXY=true): otherwise the
 * per-address enrollment rate limit (10, then one per 6 s) would make 50 enrollments take minutes.
 *
 * LXD is deliberately not looked for (no socket candidates): every agent runs degraded, says so in
 * its hello, and still answers `noop` (its handler needs no LXD).
 *
 * stdout: JSON lines {msg:"agents started", count, hostIds} once all run, {msg:"agents stopped"} at
 * SIGTERM. Agent logs (warn and above) go to stderr.
 */
import { join } from "node:path";
import { z } from "zod";
import { Agent } from "../../agent/agent";
import { enroll } from "../../agent/enroll";
import { StateDir } from "../../agent/state";
import { createLogger } from "../../shared/logger";
import { exitWithParent } from "./common";

const ConfigSchema = z.object({
  gatewayUrl: z.url(),
  stateRoot: z.string().min(1),
  tokens: z.array(z.string().min(1)).min(1),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("warn"),
});

const say = (fields: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(fields)}\n`);

async function main() {
  const config = ConfigSchema.parse(JSON.parse(process.env.BENCH_AGENTS ?? "null"));
  const logger = createLogger({ service: "kws-bench-agent" }, { level: config.logLevel, write: (l) => process.stderr.write(`${l}\n`) });

  const agents: Agent[] = [];
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled(agents.map((a) => a.stop()));
    say({ msg: "agents stopped", signal, count: agents.length });
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  exitWithParent(() => stop("parent gone"));

  const hostIds = await Promise.all(
    config.tokens.map(async (token, i) => {
      const stateDir = join(config.stateRoot, `agent-${i}`);
      const state = new StateDir({ dir: stateDir });
      await state.ensure();
      const forwardedFor = `10.77.${(i >> 8) & 255}.${i & 255}`;
      const credential = await enroll({
        gatewayUrl: config.gatewayUrl,
        token,
        state,
        fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), "x-forwarded-for": forwardedFor } }),
      });
      const agent = new Agent({
        stateDir,
        credential,
        gatewayUrl: config.gatewayUrl,
        agentVersion: "bench",
        logger,
        // No LXD: degraded on purpose (noop does not need it), and no LXD calls for facts.
        lxdSocketCandidates: [],
      });
      await agent.start();
      agents.push(agent);
      return credential.hostId;
    }),
  );
  say({ msg: "agents started", count: agents.length, hostIds });
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: "error", msg: "agents failed", error: err instanceof Error ? (err.stack ?? err.message) : String(err) })}\n`);
  process.exit(1);
});
