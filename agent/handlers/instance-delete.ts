import { LxdError } from "../lxd/errors";
import type { Handler } from "./handler";
import { settleInstance } from "./instance-support";

const FORCED_STOP_SECONDS = 30;

export const instanceDelete: Handler<"instance.delete"> = {
  lxd: "required",
  async run({ lxd, payload: { name }, progress }) {
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
    return { name, deleted: true };
  },
};
