import { LxdError } from "../lxd/errors";
import type { Handler } from "./handler";
import { releaseLeasesOf, settleInstance } from "./instance-support";

const FORCED_STOP_SECONDS = 30;

export const instanceDelete: Handler<"instance.delete"> = {
  lxd: "required",
  async run({ lxd, payload: { name }, progress, logger }) {
    await settleInstance(lxd, name, (m) => progress("delete", m));
    const instance = await lxd.getInstance(name);
    if (!instance) {
      progress("delete", `${name} does not exist`);
      return { name, deleted: false };
    }
    if (instance.status !== "Stopped") {
      progress("stop", `stopping ${name} (forced)`);
      await lxd.stopInstance(name, { force: true, timeoutSeconds: FORCED_STOP_SECONDS });
    }
    progress("delete", `deleting ${name}`);
    try {
      await lxd.deleteInstance(name);
    } catch (err) {
      if (err instanceof LxdError && err.status === 404) return { name, deleted: false };
      throw err;
    }
    // Its address may be reserved for someone else next: no lease of it may stay behind.
    const mac = instance.config["volatile.eth0.hwaddr"];
    const network = instance.expanded_devices?.eth0?.network;
    if (mac && network) {
      await releaseLeasesOf(lxd, mac, network).catch((err: unknown) => logger.warn("could not release the deleted instance's DHCP lease", { name, err }));
    }
    return { name, deleted: true };
  },
};
