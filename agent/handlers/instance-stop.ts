import type { Handler } from "./handler";
import { settleInstance, summarize } from "./instance-support";

export const instanceStop: Handler<"instance.stop"> = {
  lxd: "required",
  async run({ lxd, payload: { name, force, timeoutSeconds }, progress }) {
    await settleInstance(lxd, name, (m) => progress("stop", m));
    const { status } = await lxd.getInstanceState(name);
    if (status === "Stopped") {
      progress("stop", `${name} is already stopped`);
    } else {
      progress("stop", `stopping ${name}${force ? " (forced)" : ""}, waiting up to ${timeoutSeconds} s`);
      await lxd.stopInstance(name, { force, timeoutSeconds });
    }
    return summarize(lxd, name);
  },
};
