import { command } from "../registry";
import { passwordFromStdin } from "../stdin";
import { confirm, YES } from "../prompt";
import { usageError } from "../errors";

const deleteCommand = (kind: "users" | "databases", noun: string, summary: string, example: string, loses: string) =>
  command({
    path: ["pg", kind, "delete"],
    summary,
    usage: "NAME [--yes]",
    args: { min: 1, max: 1 },
    options: YES,
    examples: [[`kws pg ${kind} delete ${example} --yes`, "delete it without asking"]],
    async run(ctx) {
      const name = ctx.args[0]!;
      await confirm(ctx, `Delete the ${noun} ${name} ${loses}?`);
      await ctx.api().call("DELETE", `/pg/${kind}/${encodeURIComponent(name)}`);
      ctx.out.result({ deleted: name }, () => `The ${noun} ${name} is deleted.`);
    },
  });

export const pgCommands = [
  command({
    path: ["pg", "users", "list"],
    summary: "Your managed PostgreSQL users and their databases",
    examples: [["kws pg users list", "show them"]],
    async run(ctx) {
      const list = await ctx.api().call("GET", "/pg/users");
      ctx.out.result(list, () => [
        `Server: ${list.host}:${list.port}`,
        ...ctx.out.table(["user", "databases", "created"], list.users.map((u) => [u.name, u.databases.join(", ") || "-", u.createdAt]), "No database users yet: `kws pg users create NAME`."),
      ]);
    },
  }),
  command({
    path: ["pg", "users", "create"],
    summary: "Create a PostgreSQL user (a generated password unless --password-stdin)",
    usage: "NAME [--password-stdin]",
    args: { min: 1, max: 1 },
    options: { "password-stdin": { type: "boolean", description: "read the password from stdin (12-256 printable ASCII characters)" } },
    examples: [
      ["kws pg users create shop_app", "a user with a generated password; prints its connection URI"],
      ["kws pg users create shop_app --json | jq -r .connectionUri", "the URI, in a script"],
    ],
    async run(ctx) {
      const password = ctx.options["password-stdin"] ? await passwordFromStdin(ctx) : undefined;
      const created = await ctx.api().call("POST", "/pg/users", { name: ctx.args[0], ...(password === undefined ? {} : { password }) });
      ctx.out.result(created, () => [`User ${created.user.name} created.`, `Password:   ${created.password}`, `Connect:    ${created.connectionUri}<database>`]);
    },
  }),
  deleteCommand("users", "user", "Delete a PostgreSQL user and the databases it owns", "shop_app", "and every database it owns"),
  command({
    path: ["pg", "password"],
    summary: "Show a PostgreSQL user's password and connection URI",
    usage: "NAME",
    args: { min: 1, max: 1 },
    examples: [["kws pg password shop_app", "print the password"]],
    async run(ctx) {
      const shown = await ctx.api().call("GET", `/pg/users/${encodeURIComponent(ctx.args[0]!)}/password`);
      ctx.out.result(shown, () => [shown.password, `Connect: ${shown.connectionUri}<database>`]);
    },
  }),
  command({
    path: ["pg", "databases", "list"],
    summary: "Your managed PostgreSQL databases",
    examples: [["kws pg databases list", "show them"]],
    async run(ctx) {
      const list = await ctx.api().call("GET", "/pg/databases");
      ctx.out.result(list, () => [
        `Server: ${list.host}:${list.port}`,
        ...ctx.out.table(["database", "owner", "created"], list.databases.map((d) => [d.name, d.owner, d.createdAt]), "No databases yet: `kws pg databases create NAME --owner USER`."),
      ]);
    },
  }),
  command({
    path: ["pg", "databases", "create"],
    summary: "Create a database owned by one of your PostgreSQL users",
    usage: "NAME --owner USER",
    args: { min: 1, max: 1 },
    options: { owner: { type: "string", value: "USER", description: "the database user who owns it (required)" } },
    examples: [["kws pg databases create shop --owner shop_app", "a database for shop_app"]],
    async run(ctx) {
      if (!ctx.options.owner) throw usageError("--owner USER is required: one of your database users (`kws pg users list`)", ctx.name);
      const created = await ctx.api().call("POST", "/pg/databases", { name: ctx.args[0], owner: ctx.options.owner });
      ctx.out.result(created, () => [`Database ${created.database.name} created, owned by ${created.database.owner}.`, `Connect: ${created.connectionUri}`]);
    },
  }),
  deleteCommand("databases", "database", "Delete a database (its sessions end)", "shop", "and all its data"),
];
