import { randomBytes } from "node:crypto";
import type { Ok } from "../api";
import { CliError, EXIT } from "../errors";
import { followJob, type Job } from "../jobs";
import { confirm, YES } from "../prompt";
import { type CommandContext, command } from "../registry";
import { passwordFromStdin } from "../stdin";

type Instance = Ok<"GET", "/instance">;

const WAIT = { wait: { type: "boolean", short: "w", description: "follow the job's steps until it ends (exit 1 if it fails)" } } as const;
// Instance logins are lower-case: an account name such as "Ada.Lovelace" becomes "ada_lovelace".
const loginFrom = (username: string) => username.toLowerCase().replace(/[^a-z0-9_-]/g, "_").slice(0, 32);

/** 24 random characters with every class the password rule asks for (lower, upper, digit, other). */
function generatedPassword(): string {
  for (;;) {
    const body = randomBytes(18).toString("base64url");
    if (/[a-z]/.test(body) && /[A-Z]/.test(body) && /[0-9]/.test(body)) return `${body.slice(0, 12)}-${body.slice(12)}`;
  }
}

function statusLines(i: Instance): string[] {
  if (i.state === "none") return ["No instance yet: deploy one with `kws instance deploy --wait`."];
  return [
    `state:    ${i.state}`,
    `host:     ${i.host ?? "-"}`,
    `address:  ${i.ip ?? "-"}`,
    `login:    ${i.username ?? "-"}`,
    ...(i.urls ? [`IDE:      ${i.urls.ide}`, `SSH:      ${i.urls.ssh}`] : []),
    ...(i.job ? [`last job: ${i.job.kind} ${i.job.status}${i.job.error ? ` (${i.job.error.message})` : ""}`] : []),
  ];
}

/** A queued job: followed to its end with --wait (then the instance as it is now), else where to follow it. */
async function queued(ctx: CommandContext<typeof WAIT>, job: Job, what: string, extra: Record<string, unknown> = {}) {
  const api = ctx.api();
  if (!ctx.options.wait) {
    ctx.out.result({ job, ...extra }, () => `${what} queued (job ${job.id}). Follow it with \`kws instance status\`, or pass --wait next time.`);
    return;
  }
  const done = await followJob(api, ctx.out, job.id, what);
  const instance = await api.call("GET", "/instance");
  ctx.out.result({ job: done, instance, ...extra }, () => [`${what} done.`, ...statusLines(instance)]);
}

const action = (verb: "start" | "stop", summary: string) =>
  command({
    path: ["instance", verb],
    summary,
    options: WAIT,
    examples: [[`kws instance ${verb} --wait`, `${verb} your instance and wait until it is done`]],
    async run(ctx) {
      const { job } = await ctx.api().call("POST", `/instance/${verb}`);
      await queued(ctx, job, `${verb[0]!.toUpperCase()}${verb.slice(1)}`);
    },
  });

export const instanceCommands = [
  command({
    path: ["instance", "deploy"],
    summary: "Deploy your instance (a private Linux container with SSH and VS Code in the browser)",
    usage: "[--username NAME] [--password-stdin] [--wait]",
    options: {
      username: { type: "string", value: "NAME", description: "the login inside the instance (default: your account's name, lower-cased)" },
      "password-stdin": { type: "boolean", description: "read the login's password from stdin (default: one is generated and shown)" },
      ...WAIT,
    },
    examples: [
      ["kws instance deploy --wait", "deploy with a generated password, showing each step"],
      ["printf '%s' \"$PASS\" | kws instance deploy --username ada --password-stdin", "choose the login and its password"],
    ],
    async run(ctx) {
      const api = ctx.api();
      const username = ctx.options.username ?? loginFrom((await api.call("GET", "/me")).user.username);
      const given = ctx.options["password-stdin"] ? await passwordFromStdin(ctx) : undefined;
      const password = given ?? generatedPassword();
      const { job } = await api.call("POST", "/instance", { username, password });
      if (!given) ctx.out.say(`The login ${username} has the password ${password} (\`kws instance password\` shows it again).`);
      await queued(ctx, job, "Deploy", given ? {} : { password });
    },
  }),
  command({
    path: ["instance", "status"],
    summary: "Your instance's state, address, login and links",
    examples: [
      ["kws instance status", "show the instance"],
      ["kws instance status --json | jq -r .state", "its state, in a script"],
    ],
    async run(ctx) {
      const instance = await ctx.api().call("GET", "/instance");
      ctx.out.result(instance, statusLines);
    },
  }),
  action("start", "Start your stopped instance"),
  action("stop", "Stop your instance (its disk is kept)"),
  command({
    path: ["instance", "kill"],
    summary: "Delete your instance: the container, its disk, its address and its apps",
    usage: "[--yes] [--wait]",
    options: { ...WAIT, ...YES },
    examples: [["kws instance kill --yes --wait", "delete it without asking, and wait until it is gone"]],
    async run(ctx) {
      await confirm(ctx, "Delete your instance and everything on its disk?");
      const { job } = await ctx.api().call("DELETE", "/instance");
      await queued(ctx, job, "Kill");
    },
  }),
  command({
    path: ["instance", "password"],
    summary: "Show the password of your instance's login",
    examples: [["kws instance password", "print it"]],
    async run(ctx) {
      const { username, password } = await ctx.api().call("GET", "/instance?reveal=password");
      if (!password) throw new CliError("you have no instance", EXIT.failed, "deploy one with `kws instance deploy --wait`");
      ctx.out.result({ username, password }, () => password);
    },
  }),
];
