import { usageError } from "../errors";
import { command } from "../registry";

const ACCESS = ["owner", "authenticated", "public"] as const;
type Access = (typeof ACCESS)[number];

export const appCommands = [
  command({
    path: ["apps", "publish"],
    summary: "Publish a port of your instance at <name>.<apps host>, with HTTPS",
    usage: "PORT --name NAME [--access owner|authenticated|public]",
    args: { min: 1, max: 1 },
    options: {
      name: { type: "string", value: "NAME", description: "the app's DNS label, unique on this KWS (required)" },
      access: { type: "string", value: "LEVEL", description: "owner (default): only you; authenticated: any KWS account; public: anyone" },
    },
    examples: [
      ["kws apps publish 3000 --name shop", "serve port 3000 of your instance at shop.<apps host>, for you only"],
      ["kws apps publish 8080 --name demo --access public", "for anyone"],
    ],
    async run(ctx) {
      const { name, access } = ctx.options;
      if (!name) throw usageError("--name NAME is required: the app's DNS label (e.g. shop)", ctx.name);
      if (access !== undefined && !ACCESS.includes(access as Access)) throw usageError(`--access must be ${ACCESS.join(", ")}`, ctx.name);
      const port = Number(ctx.args[0]);
      if (!Number.isInteger(port)) throw usageError(`PORT must be a whole number, not ${ctx.args[0]}`, ctx.name);
      const { app } = await ctx.api().call("POST", "/apps", { name, port, ...(access ? { access } : {}) });
      ctx.out.result({ app }, () => `Published port ${app.port} at ${app.url} (access: ${app.access}).`);
    },
  }),
  command({
    path: ["apps", "list"],
    summary: "Your published apps",
    examples: [["kws apps list", "show them"]],
    async run(ctx) {
      const { apps } = await ctx.api().call("GET", "/apps");
      ctx.out.result({ apps }, () =>
        ctx.out.table(["name", "port", "access", "url"], apps.map((a) => [a.name, String(a.port), a.access, a.url]), "No apps yet: `kws apps publish PORT --name NAME`."),
      );
    },
  }),
  command({
    path: ["apps", "remove"],
    summary: "Stop publishing an app; its name is free again",
    usage: "NAME",
    args: { min: 1, max: 1 },
    examples: [["kws apps remove shop", "remove the app shop"]],
    async run(ctx) {
      const name = ctx.args[0]!;
      await ctx.api().call("DELETE", `/apps/${encodeURIComponent(name)}`);
      ctx.out.result({ removed: name }, () => `App ${name} removed.`);
    },
  }),
];
