import type { Logger } from "../../shared/logger";
import { notSignedIn, usageError } from "../errors";
import type { Output } from "../output";
import { command } from "../registry";
import { type TunnelAccess, TunnelClient } from "../tunnel";

const ACCESS: readonly TunnelAccess[] = ["owner", "authenticated", "public"];

/** Visitors' failed connections as lines on stderr. */
function warnings(out: Output): Logger {
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (msg, fields) => out.warn(`kws: ${msg}${fields?.reason ? `: ${String(fields.reason)}` : ""}`),
    error: (msg) => out.warn(`kws: ${msg}`),
    child: () => logger,
  };
  return logger;
}

export const tunnelCommands = [
  command({
    path: ["tunnel"],
    summary: "Serve a port of this machine at <name>.<apps host> while the command runs",
    usage: "LOCAL_PORT [--name NAME] [--access owner|authenticated|public]",
    args: { min: 1, max: 1 },
    options: {
      name: { type: "string", value: "NAME", description: "the name to serve at (a DNS label; default: one is made)" },
      access: { type: "string", value: "LEVEL", description: "who may visit: owner (you, default), authenticated (any KWS account) or public" },
    },
    examples: [
      ["kws tunnel 3000", "serve http://127.0.0.1:3000 to you alone, at a name KWS makes"],
      ["kws tunnel 3000 --name demo --access public", "serve it to anyone at demo.<apps host>"],
    ],
    async run(ctx) {
      const port = Number(ctx.args[0]);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw usageError(`LOCAL_PORT must be a port number (1-65535), not ${ctx.args[0]}`, "tunnel");
      const access = (ctx.options.access ?? "owner") as TunnelAccess;
      if (!ACCESS.includes(access)) throw usageError(`--access must be owner, authenticated or public, not ${access}`, "tunnel");
      const { url, token } = ctx.settings();
      if (!url || !token) throw notSignedIn();
      const tunnel = new TunnelClient({
        baseUrl: url,
        token,
        port,
        access,
        ...(ctx.options.name ? { name: ctx.options.name } : {}),
        logger: warnings(ctx.out),
        onOpen: ({ name, url: publicUrl, resumed }) => {
          if (resumed) return ctx.out.warn(`kws: reconnected; still serving ${publicUrl}`);
          ctx.out.result({ name, url: publicUrl, port, access }, () => [
            `Serving http://127.0.0.1:${port} at ${publicUrl} (access: ${access}).`,
            "Press Ctrl-C to stop; the name is freed then.",
          ]);
        },
        onLost: (reason, retryInMs) => ctx.out.warn(`kws: ${reason}; reconnecting in ${(retryInMs / 1000).toFixed(1)} s`),
      });
      const stop = () => tunnel.stop();
      process.once("SIGINT", stop).once("SIGTERM", stop).once("SIGHUP", stop);
      try {
        await tunnel.run();
      } finally {
        process.off("SIGINT", stop).off("SIGTERM", stop).off("SIGHUP", stop);
      }
    },
  }),
];
