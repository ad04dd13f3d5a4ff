import type { Handler } from "./handler";

export const noop: Handler<"noop"> = {
  lxd: "none",
  run: async () => ({}),
};
