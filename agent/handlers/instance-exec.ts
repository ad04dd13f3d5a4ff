import type { Handler } from "./handler";

/** Runs argv with values in the environment: nothing is ever spliced into a shell string. */
export const instanceExec: Handler<"instance.exec"> = {
  lxd: "required",
  async run({ lxd, payload: { name, command, env, user, group, cwd }, progress }) {
    progress("exec", `running ${command[0]} in ${name}`);
    return lxd.exec(name, {
      command,
      env,
      ...(user !== undefined ? { user } : {}),
      ...(group !== undefined ? { group } : {}),
      ...(cwd !== undefined ? { cwd } : {}),
    });
  },
};
