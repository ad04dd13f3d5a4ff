import { LxdError } from "../lxd/errors";
import type { LxdClient } from "../lxd/client";
import type { LxdDevice } from "../lxd/types";
import type { Handler } from "./handler";
import { settleInstance, summarize, waitForAddress, type InstanceSummary } from "./instance-support";

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
 * instance.create and instance.deploy share. Steps reported: create, start, network. Answers the
 * instance's summary when the address wait already read it (a state read costs LXD ~8 ms).
 */
export async function ensureInstance(
  lxd: LxdClient,
  spec: EnsureInstanceSpec,
  progress: (step: string, message: string) => void,
  signal: AbortSignal,
  options: InstanceCreateOptions = {},
): Promise<InstanceSummary | undefined> {
  const { name, image, network, pool, ipv4Address } = spec;
  await settleInstance(lxd, name, (m) => progress("create", m));

  let created = false;
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
      created = true;
    } catch (err) {
      // 409 is also LXD's answer to an address clash: only "it exists now" counts as done.
      if (!(err instanceof LxdError && err.status === 409 && (await lxd.getInstance(name)))) throw err;
    }
  }

  if (!spec.start) return undefined;
  // One that was just made is stopped: no need to ask.
  const status = created ? "Stopped" : (await lxd.getInstanceState(name)).status;
  if (status === "Running") {
    progress("start", `${name} is already running`);
  } else {
    progress("start", `starting ${name}`);
    await lxd.startInstance(name);
  }
  if (!ipv4Address) return undefined;
  progress("network", `waiting for ${name} to get ${ipv4Address}`);
  const addresses = await waitForAddress(lxd, { name, address: ipv4Address, network }, signal, options.addressTimeoutMs);
  return { name, status: "Running", ipv4: addresses[0] ?? null };
}

export const instanceCreate = (options: InstanceCreateOptions = {}): Handler<"instance.create"> => ({
  lxd: "required",
  async run({ lxd, payload, progress, signal }) {
    return (await ensureInstance(lxd, payload, progress, signal, options)) ?? summarize(lxd, payload.name);
  },
});
