import { cpus, totalmem } from "node:os";
import { statfs } from "node:fs/promises";
import type { LxdClient } from "../lxd/client";
import type { WireGuard } from "../wireguard/manager";
import type { CommandResult } from "../../shared/protocol/commands";
import type { Handler } from "./handler";

export type HostFacts = CommandResult<"host.facts">;

export interface HostFactsOptions {
  /** Measured for free disk when LXD's storage pool cannot be (degraded, or not a local path). */
  stateDir: string;
  storagePool: string;
  /** Its public key and port go to the control plane; the private key stays on the host. */
  wireguard?: Pick<WireGuard, "facts">;
}

export async function collectHostFacts(lxd: LxdClient | undefined, options: HostFactsOptions): Promise<HostFacts> {
  const instances = lxd ? await lxd.listInstances() : [];
  const poolSource = lxd ? (await lxd.getStoragePool(options.storagePool))?.config.source : undefined;
  const wireguard = options.wireguard?.facts();
  return {
    cpus: cpus().length,
    memoryBytes: totalmem(),
    diskFreeBytes: (poolSource ? await freeBytes(poolSource) : undefined) ?? (await freeBytes(options.stateDir)) ?? 0,
    runningInstances: instances.filter((i) => i.status === "Running").length,
    instances: instances.length,
    ...(wireguard ? { wireguard } : {}),
  };
}

async function freeBytes(path: string): Promise<number | undefined> {
  try {
    const fs = await statfs(path);
    return fs.bavail * fs.bsize;
  } catch {
    return undefined;
  }
}

export function hostFacts(options: HostFactsOptions): Handler<"host.facts"> {
  return { lxd: "optional", run: ({ lxd }) => collectHostFacts(lxd, options) };
}
