import type { Handler } from "./handler";
import { waitForHttp } from "./instance-provision";
import { settleInstance, summarize, waitForAddress } from "./instance-support";

/** Start-if-stopped; with `ready`, the job ends only once the address answers on that port. */
export const instanceStart: Handler<"instance.start"> = {
  lxd: "required",
  async run({ lxd, payload: { name, ready }, progress, signal }) {
    await settleInstance(lxd, name, (m) => progress("start", m));
    const { status } = await lxd.getInstanceState(name);
    if (status === "Running") {
      progress("start", `${name} is already running`);
    } else {
      progress("start", `starting ${name}`);
      await lxd.startInstance(name);
    }
    if (ready) {
      const network = (await lxd.getInstance(name))?.expanded_devices?.eth0?.network ?? "lxdbr0";
      progress("network", `waiting for ${name} to get ${ready.ipv4Address}`);
      await waitForAddress(lxd, { name, address: ready.ipv4Address, network }, signal);
      await waitForHttp(ready.ipv4Address, ready.port, signal);
      progress("ready", `${ready.ipv4Address}:${ready.port} answers`);
    }
    return summarize(lxd, name);
  },
};
