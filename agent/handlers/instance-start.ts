import { LxdError } from "../lxd/errors";
import type { Handler } from "./handler";
import { ensureRunning, type InstanceCreateOptions } from "./instance-create";
import { waitForHttp } from "./instance-provision";
import { settleInstance, summarize, waitForAddress } from "./instance-support";

/** Start-if-stopped (with the isolated NIC); with `ready`, the job ends only once the address answers on that port. */
export const instanceStart = (options: InstanceCreateOptions = {}): Handler<"instance.start"> => ({
  lxd: "required",
  async run({ lxd, payload: { name, ready }, progress, signal }) {
    await settleInstance(lxd, name, (m) => progress("start", m));
    const instance = await lxd.getInstance(name);
    if (!instance) throw new LxdError(404, `instance ${name} not found`);
    await ensureRunning(lxd, name, instance, {}, progress, options);
    if (ready) {
      const network = instance.expanded_devices?.eth0?.network ?? "lxdbr0";
      progress("network", `waiting for ${name} to get ${ready.ipv4Address}`);
      await waitForAddress(lxd, { name, address: ready.ipv4Address, network }, signal);
      await waitForHttp(ready.ipv4Address, ready.port, signal);
      progress("ready", `${ready.ipv4Address}:${ready.port} answers`);
    }
    return summarize(lxd, name);
  },
});
