import type { Handler } from "./handler";
import { settleInstance, summarize } from "./instance-support";

export const instanceStart: Handler<"instance.start"> = {
  lxd: "required",
  async run({ lxd, payload: { name }, progress }) {
    await settleInstance(lxd, name, (m) => progress("start", m));
    const { status } = await lxd.getInstanceState(name);
    if (status === "Running") {
      progress("start", `${name} is already running`);
    } else {
      progress("start", `starting ${name}`);
      await lxd.startInstance(name);
    }
    return summarize(lxd, name);
  },
};
