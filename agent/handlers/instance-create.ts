import { LxdError } from "../lxd/errors";
import type { LxdClient } from "../lxd/client";
import type { LxdDevice } from "../lxd/types";
import type { Handler } from "./handler";
import { settleInstance, summarize, waitForAddress } from "./instance-support";

export interface InstanceCreateOptions {
  /** How long a started instance may take to get its reserved address from DHCP. */
  addressTimeoutMs?: number;
}

export interface EnsureInstanceSpec {
  name: string;
  image: string;
  network: string;
  pool: string;
  ipv4Address?: string;
  config: Record<string, string>;
  start: boolean;
}

/**
 * Create-if-absent, then start-if-stopped, then wait for the reserved address: the part that
 * instance.create and instance.deploy share. Steps reported: create, start, network.
 */
export async function ensureInstance(
  lxd: LxdClient,
  spec: EnsureInstanceSpec,
  progress: (step: string, message: string) => void,
  signal: AbortSignal,
  options: InstanceCreateOptions = {},
): Promise<void> {
  const { name, image, network, pool, ipv4Address } = spec;
  await settleInstance(lxd, name, (m) => progress("create", m));

  if (await lxd.getInstance(name)) {
    progress("create", `${name} already exists`);
  } else {
    progress("create", `creating ${name} from ${image}${ipv4Address ? ` with ${ipv4Address}` : ""}`);
    const eth0: LxdDevice = { type: "nic", name: "eth0", network, ...(ipv4Address ? { "ipv4.address": ipv4Address } : {}) };
    try {
      await lxd.createInstance({
        name,
        image,
        config: spec.config,
        devices: { eth0, root: { type: "disk", path: "/", pool } },
      });
    } catch (err) {
      // 409 is also LXD's answer to an address clash: only "it exists now" counts as done.
      if (!(err instanceof LxdError && err.status === 409 && (await lxd.getInstance(name)))) throw err;
    }
  }

  if (!spec.start) return;
  const { status } = await lxd.getInstanceState(name);
  if (status === "Running") {
    progress("start", `${name} is already running`);
  } else {
    progress("start", `starting ${name}`);
    await lxd.startInstance(name);
  }
  if (ipv4Address) {
    progress("network", `waiting for ${name} to get ${ipv4Address}`);
    await waitForAddress(lxd, { name, address: ipv4Address, network }, signal, options.addressTimeoutMs);
  }
}

export const instanceCreate = (options: InstanceCreateOptions = {}): Handler<"instance.create"> => ({
  lxd: "required",
  async run({ lxd, payload, progress, signal }) {
    await ensureInstance(lxd, payload, progress, signal, options);
    return summarize(lxd, payload.name);
  },
});
