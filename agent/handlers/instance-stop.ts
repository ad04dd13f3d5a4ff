import { LxdError } from "../lxd/errors";
import type { Handler } from "./handler";
import { settleInstance, summarize } from "./instance-support";

/** A clean shutdown within the timeout, then a forced stop if the instance is still running. */
export const instanceStop: Handler<"instance.stop"> = {
  lxd: "required",
  async run({ lxd, payload: { name, force, timeoutSeconds }, progress }) {
    await settleInstance(lxd, name, (m) => progress("stop", m));
    if ((await lxd.getInstanceState(name)).status === "Stopped") {
      progress("stop", `${name} is already stopped`);
      return summarize(lxd, name);
    }
    if (!force) {
      progress("stop", `stopping ${name}, waiting up to ${timeoutSeconds} s`);
      try {
        await lxd.stopInstance(name, { timeoutSeconds });
      } catch (err) {
        if (!(err instanceof LxdError)) throw err;
        progress("stop", `${name} did not shut down cleanly (${err.message}); forcing it`);
      }
    }
    if ((await lxd.getInstanceState(name)).status !== "Stopped") {
      if (force) progress("stop", `stopping ${name} (forced)`);
      await lxd.stopInstance(name, { force: true, timeoutSeconds });
    }
    return summarize(lxd, name);
  },
};
