import { homedir } from "node:os";
import { z } from "zod";
import type { CliEnvironment } from "./cli-args";

/** Empty counts as unset (a systemd unit's `Environment=KWS_WG_PORT=`). */
const setting = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

/**
 * Every variable the agent reads, in one place. Their values are checked with the flags that win
 * over them (agent/cli-args.ts), so a wrong one is reported under its flag's name.
 */
const agentEnvSchema = z
  .object({
    KWS_GATEWAY_URL: setting,
    KWS_AGENT_STATE_DIR: setting,
    LXD_SOCKET: setting,
    KWS_WG_INTERFACE: setting,
    KWS_WG_ADDRESS: setting,
    KWS_WG_PORT: setting,
    KWS_WG_ENDPOINT: setting,
    // "off" disables WireGuard.
    KWS_WIREGUARD: setting,
    KWS_STREAMS_URL: setting,
    KWS_STREAM_TARGETS: setting,
    // "off" disables the data connection.
    KWS_STREAMS: setting,
    // Where doctor looks for wg, ip and nft.
    PATH: setting,
  })
  .transform((e) => ({
    gatewayUrl: e.KWS_GATEWAY_URL,
    stateDir: e.KWS_AGENT_STATE_DIR,
    lxdSocket: e.LXD_SOCKET,
    wgInterface: e.KWS_WG_INTERFACE,
    wgAddress: e.KWS_WG_ADDRESS,
    wgPort: e.KWS_WG_PORT,
    wgEndpoint: e.KWS_WG_ENDPOINT,
    wireguard: e.KWS_WIREGUARD,
    streamsUrl: e.KWS_STREAMS_URL,
    streamTargets: e.KWS_STREAM_TARGETS,
    streams: e.KWS_STREAMS,
    searchPath: e.PATH,
  }));

/** The agent's environment and the process facts its defaults depend on (root, home). */
export function readAgentEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment & { searchPath?: string } {
  return { ...agentEnvSchema.parse(env), isRoot: process.getuid?.() === 0, homeDir: homedir() };
}
