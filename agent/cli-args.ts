import { parseArgs } from "node:util";
import { join } from "node:path";
import { z } from "zod";
import { endpoint } from "../shared/protocol/host-address";
import { interfaceName } from "../shared/protocol/wireguard";
import { insecureGateway } from "./gateway-url";
import { cidr } from "./streams/targets";
import { interfaceAddress, listenPort } from "./wireguard/config";

export const USAGE = `usage: kws-agent [doctor] [--gateway URL] [--enroll TOKEN] [--state-dir DIR] [--lxd-socket PATH]
                 [--wg-interface NAME] [--wg-address CIDR] [--wg-port PORT] [--wg-endpoint HOST:PORT] [--no-wireguard]
                 [--insecure-gateway] [--streams-url URL] [--stream-targets CIDR[,CIDR...]] [--no-streams]

  (no command)        run the agent: connect to the gateway and execute its commands
  doctor              check this host (LXD, storage, bridge, image, WireGuard, gateway) and exit

  --gateway URL       the gateway's base URL, e.g. https://kws.example.com (env KWS_GATEWAY_URL);
                      optional once enrolled: the enrolled gateway is remembered
  --insecure-gateway  allow a plain http:// gateway that is not on loopback (the host credential and
                      instance passwords then cross the network unencrypted)
  --enroll TOKEN      enroll this host with a one-time token from the control plane, then run
  --state-dir DIR     where the credential and the job journal live
                      (env KWS_AGENT_STATE_DIR; default /var/lib/kws-agent as root, ~/.kws-agent otherwise)
  --lxd-socket PATH   LXD's unix socket (env LXD_SOCKET; default: the Debian, snap or Incus path)
  --wg-interface NAME the WireGuard interface the agent owns (env KWS_WG_INTERFACE; default wg0)
  --wg-address CIDR   the host's tunnel address and the devices' subnet (env KWS_WG_ADDRESS; default 10.8.0.1/24)
  --wg-port PORT      WireGuard's UDP listen port (env KWS_WG_PORT; default 51820)
  --wg-endpoint HOST:PORT  where devices reach this host, reported to the control plane (env KWS_WG_ENDPOINT)
  --no-wireguard      leave WireGuard alone: no interface, no firewall table (env KWS_WIREGUARD=off)
  --streams-url URL   where the data connection for published apps goes (env KWS_STREAMS_URL;
                      default the gateway URL): the control plane that runs the ingress
  --stream-targets CIDR[,CIDR...]  addresses streams may reach (env KWS_STREAM_TARGETS; default the
                      subnets of the lxdbr0 bridge; the host itself and 169.254.0.0/16 never)
  --no-streams        open no data connection: apps of this host's instances are unreachable (env KWS_STREAMS=off)
  -h, --help          show this help`;

/** A command line the agent cannot run with; main prints it with the usage and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** What agent/env.ts reads from the environment and the process (empty values unset), passed in so parsing stays pure. */
export interface CliEnvironment {
  gatewayUrl?: string;
  stateDir?: string;
  lxdSocket?: string;
  wgInterface?: string;
  wgAddress?: string;
  wgPort?: string;
  wgEndpoint?: string;
  /** "off" disables WireGuard. */
  wireguard?: string;
  streamsUrl?: string;
  streamTargets?: string;
  /** "off" disables the data connection. */
  streams?: string;
  isRoot: boolean;
  homeDir: string;
}

const gatewayUrl = z
  .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL, e.g. https://kws.example.com" })
  .refine((u) => !new URL(u).search && !new URL(u).hash, "must not carry a query or a fragment");

const ArgsSchema = z.object({
  command: z.enum(["run", "doctor", "help"]),
  gatewayUrl: gatewayUrl.optional(),
  enrollToken: z.string().trim().min(1, "must not be empty").max(512).optional(),
  stateDir: z.string().min(1, "must not be empty"),
  lxdSocket: z.string().min(1, "must not be empty").optional(),
  wgInterface: interfaceName.optional(),
  wgAddress: interfaceAddress.optional(),
  wgPort: listenPort.optional(),
  wgEndpoint: endpoint.optional(),
  wireguard: z.boolean(),
  insecureGateway: z.boolean(),
  streamsUrl: gatewayUrl.optional(),
  streamTargets: z.array(cidr).min(1, "must name at least one CIDR").optional(),
  streams: z.boolean(),
});

export type AgentArgs = z.infer<typeof ArgsSchema>;

const FLAG_OF: Record<string, string> = {
  gatewayUrl: "--gateway",
  enrollToken: "--enroll",
  stateDir: "--state-dir",
  lxdSocket: "--lxd-socket",
  wgInterface: "--wg-interface",
  wgAddress: "--wg-address",
  wgPort: "--wg-port",
  wgEndpoint: "--wg-endpoint",
  streamsUrl: "--streams-url",
  streamTargets: "--stream-targets",
  command: "command",
};

/** argv without node and the script; flags win over the environment. Throws UsageError. */
export function parseCliArgs(argv: readonly string[], env: CliEnvironment): AgentArgs {
  let parsed: ReturnType<typeof tokenize>;
  try {
    parsed = tokenize(argv);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`unexpected argument: ${positionals[1]}`);
  const command = values.help ? "help" : (positionals[0] ?? "run");
  if (command !== "run" && command !== "doctor" && command !== "help") {
    throw new UsageError(`unknown command: ${command} (the only command is "doctor")`);
  }
  if (command === "doctor" && values.enroll !== undefined) throw new UsageError("--enroll cannot be combined with doctor");

  const result = ArgsSchema.safeParse({
    command,
    gatewayUrl: values.gateway ?? env.gatewayUrl,
    enrollToken: values.enroll,
    stateDir: values["state-dir"] ?? env.stateDir ?? defaultStateDir(env),
    lxdSocket: values["lxd-socket"] ?? env.lxdSocket,
    wgInterface: values["wg-interface"] ?? env.wgInterface,
    wgAddress: values["wg-address"] ?? env.wgAddress,
    wgPort: values["wg-port"] ?? env.wgPort,
    wgEndpoint: values["wg-endpoint"] ?? env.wgEndpoint,
    wireguard: !values["no-wireguard"] && env.wireguard?.trim() !== "off",
    insecureGateway: values["insecure-gateway"] ?? false,
    streamsUrl: values["streams-url"] ?? env.streamsUrl,
    streamTargets: list(values["stream-targets"] ?? env.streamTargets),
    streams: !values["no-streams"] && env.streams?.trim() !== "off",
  });
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue?.path[0] ?? "");
    throw new UsageError(`${FLAG_OF[key] ?? key}: ${issue?.message ?? "invalid"}`);
  }
  if (result.data.command === "run" && result.data.enrollToken !== undefined && !result.data.gatewayUrl) {
    throw new UsageError("--enroll needs --gateway URL (or KWS_GATEWAY_URL): which gateway issued the token?");
  }
  // doctor reports it as a failed check instead.
  const insecure = result.data.command === "run" && result.data.gatewayUrl && insecureGateway(result.data.gatewayUrl, result.data.insecureGateway);
  if (insecure) throw new UsageError(`--gateway: ${insecure.problem}; ${insecure.fix}`);
  return result.data;
}

function tokenize(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      gateway: { type: "string" },
      enroll: { type: "string" },
      "state-dir": { type: "string" },
      "lxd-socket": { type: "string" },
      "wg-interface": { type: "string" },
      "wg-address": { type: "string" },
      "wg-port": { type: "string" },
      "wg-endpoint": { type: "string" },
      "no-wireguard": { type: "boolean" },
      "insecure-gateway": { type: "boolean" },
      "streams-url": { type: "string" },
      "stream-targets": { type: "string" },
      "no-streams": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

function list(value: string | undefined): string[] | undefined {
  return value?.split(",").map((item) => item.trim());
}

function defaultStateDir(env: CliEnvironment): string {
  return env.isRoot ? "/var/lib/kws-agent" : join(env.homeDir, ".kws-agent");
}

/** `path` under the gateway's base URL, keeping any path prefix; `ws` turns http(s) into ws(s). */
export function gatewayEndpoint(base: string, path: string, scheme: "http" | "ws" = "http"): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
  url.search = "";
  url.hash = "";
  if (scheme === "ws") url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}
