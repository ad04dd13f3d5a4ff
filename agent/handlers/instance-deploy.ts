import type { LxdClient } from "../lxd/client";
import type { Handler } from "./handler";
import { ensureInstance, type InstanceCreateOptions } from "./instance-create";
import { ensureDns, ensureIde, ensureSsh, ensureUser, waitForHttp } from "./instance-provision";
import { summarize } from "./instance-support";

// Made by scripts/host-setup.sh where the host can: launches an image in seconds, not half a minute.
const FAST_POOL = "kws-btrfs";

/** The fast pool when the host has it; asked once per agent (host-setup makes it before the agent runs). */
function poolChooser(hasFastPool: () => Promise<boolean>) {
  let fast: Promise<boolean> | undefined;
  return async (requested: string | undefined): Promise<string> => {
    if (requested) return requested;
    fast ??= hasFastPool().catch((err: unknown) => {
      fast = undefined;
      throw err;
    });
    return (await fast) ? FAST_POOL : "default";
  };
}

/** The bridge's own address: its dnsmasq is the containers' resolver. */
async function bridgeAddress(lxd: LxdClient, network: string): Promise<string> {
  const cidr = (await lxd.getNetwork(network))?.config?.["ipv4.address"];
  const address = cidr?.split("/")[0];
  if (!address) throw new Error(`network ${network} has no IPv4 address to serve DNS`);
  return address;
}

/** Steps: create, start, network, dns, user, ssh, ide; the job ends when code-server answers (or after network, unprovisioned). */
export const instanceDeploy = (options: InstanceCreateOptions = {}): Handler<"instance.deploy"> => {
  let choosePool: ReturnType<typeof poolChooser> | undefined;
  return {
    lxd: "required",
    async run({ lxd, payload: p, progress, signal }) {
      choosePool ??= poolChooser(async () => Boolean(await lxd.getStoragePool(FAST_POOL)));
      const config: Record<string, string> = {
        "security.nesting": "true",
        "limits.memory": `${p.memoryMB}MB`,
        ...(p.cpus ? { "limits.cpu": String(p.cpus) } : {}),
        ...(p.processes ? { "limits.processes": String(p.processes) } : {}),
      };
      const pool = await choosePool(p.pool);
      const spec = { name: p.name, image: p.image, network: p.network, pool, ipv4Address: p.ipv4Address, config, start: true };
      const started = await ensureInstance(lxd, p.diskGB ? { ...spec, rootSize: `${p.diskGB}GiB` } : spec, progress, signal, options);
      if (!p.provision) return started ?? summarize(lxd, p.name);

      const nameserver = await bridgeAddress(lxd, p.network);
      progress("dns", `resolver ${nameserver}`);
      await ensureDns(lxd, p.name, nameserver);

      progress("user", `user ${p.username} with sudo`);
      const ids = await ensureUser(lxd, p.name, p.username, p.password);

      progress("ssh", "root login off, password login on");
      await ensureSsh(lxd, p.name);

      progress("ide", `code-server on port ${p.idePort}`);
      await ensureIde(lxd, p.name, { username: p.username, password: p.password, ...ids }, p.idePort, (m) => progress("ide", m));
      await waitForHttp(p.ipv4Address, p.idePort, signal);
      progress("ide", `code-server answers on ${p.ipv4Address}:${p.idePort}`);
      return summarize(lxd, p.name);
    },
  };
};
