import { createLogger } from "../shared/logger";
import { Agent } from "./agent";
import { USAGE, UsageError, parseCliArgs } from "./cli-args";
import type { AgentArgs } from "./cli-args";
import { runDoctor } from "./doctor";
import { EnrollError, enroll } from "./enroll";
import { readAgentEnvironment } from "./env";
import { StateDir } from "./state";
import { agentVersion } from "./version";

const EXIT_USAGE = 2;

async function run(args: AgentArgs): Promise<number> {
  const logger = createLogger({ service: "kws-agent" });
  const state = new StateDir({ dir: args.stateDir });
  await state.ensure();

  let credential = await state.loadCredential();
  if (args.enrollToken !== undefined && args.gatewayUrl) {
    credential = await enroll({ gatewayUrl: args.gatewayUrl, insecureGateway: args.insecureGateway, token: args.enrollToken, state });
    console.error(`kws-agent: enrolled as host ${credential.hostName} (${credential.hostId}); credential saved in ${state.credentialPath}`);
  }
  if (!credential) {
    console.error(
      `kws-agent: this host is not enrolled (no ${state.credentialPath}).\n` +
        "Create an enrollment token in the control plane, then run: kws-agent --gateway URL --enroll TOKEN",
    );
    return EXIT_USAGE;
  }

  const agent = new Agent({
    stateDir: args.stateDir,
    credential,
    gatewayUrl: args.gatewayUrl ?? credential.gatewayUrl,
    insecureGateway: args.insecureGateway,
    agentVersion: agentVersion(),
    logger,
    ...(args.lxdSocket ? { lxdSocket: args.lxdSocket } : {}),
    ...(args.wireguard
      ? {
          wireguard: {
            ...(args.wgInterface ? { interfaceName: args.wgInterface } : {}),
            ...(args.wgAddress ? { address: args.wgAddress } : {}),
            ...(args.wgPort ? { listenPort: args.wgPort } : {}),
            ...(args.wgEndpoint ? { endpoint: args.wgEndpoint } : {}),
          },
        }
      : {}),
    ...(args.streams
      ? { streams: { ...(args.streamsUrl ? { url: args.streamsUrl } : {}), ...(args.streamTargets ? { targets: args.streamTargets } : {}) } }
      : {}),
  });
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info("signal received: stopping", { signal });
      agent.stop().then(resolve, (err: unknown) => {
        logger.error("stop failed", { err });
        resolve();
      });
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  });
  await agent.start();
  await stopped;
  return 0;
}

async function main(): Promise<number> {
  const env = readAgentEnvironment();
  let args: AgentArgs;
  try {
    args = parseCliArgs(process.argv.slice(2), env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`kws-agent: ${err.message}\n(kws-agent --help shows the usage)`);
    return EXIT_USAGE;
  }
  if (args.command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (args.command === "doctor") {
    const { exitCode } = await runDoctor({
      ...(args.lxdSocket ? { lxdSocket: args.lxdSocket } : {}),
      ...(args.gatewayUrl ? { gatewayUrl: args.gatewayUrl } : {}),
      insecureGateway: args.insecureGateway,
      ...(env.searchPath ? { searchPath: env.searchPath } : {}),
    });
    return exitCode;
  }
  try {
    return await run(args);
  } catch (err) {
    console.error(`kws-agent: ${err instanceof EnrollError ? err.message : `cannot start: ${(err as Error).message}`}`);
    return 1;
  }
}

// Exit explicitly: work abandoned at shutdown may still hold timers or sockets open.
process.exit(await main());
