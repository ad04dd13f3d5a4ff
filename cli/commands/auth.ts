import { ApiClient } from "../api";
import { CliError, EXIT, notSignedIn, usageError } from "../errors";
import { type CommandContext, command } from "../registry";
import { readStdin } from "../stdin";

/** The control plane's origin from what a person types: `kws.example.org` means https. */
function serverUrl(input: string): string {
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `https://${input}`);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(url.protocol);
    return url.origin;
  } catch {
    throw usageError(`${input} is not an address of KWS (e.g. https://kws.example.org)`, "login");
  }
}

async function signedInAs(ctx: CommandContext, url: string, token: string) {
  const { user } = await new ApiClient(url, token).call("GET", "/me");
  ctx.config.write({ ...ctx.config.read(), url, token });
  ctx.out.result({ url, user }, () => `Signed in to ${url} as ${user.username} (${user.email}).`);
}

export const authCommands = [
  command({
    path: ["login"],
    summary: "Sign in: approve a code in the browser, or pipe an API token in with --token",
    usage: "[URL] [--token]",
    args: { min: 0, max: 1 },
    options: { token: { type: "boolean", description: "read an API token from stdin instead of approving a code in the browser" } },
    examples: [
      ["kws login https://kws.example.org", "sign in by approving a code on the dashboard"],
      ["echo $KWS_API_TOKEN | kws login https://kws.example.org --token", "sign in with an API token (scripts, CI)"],
    ],
    async run(ctx) {
      const given = ctx.args[0] ?? ctx.settings().url;
      if (!given) throw usageError("which KWS? give its address: kws login https://kws.example.org", "login");
      const url = serverUrl(given);
      if (ctx.options.token) {
        if (ctx.stdin.isTTY) ctx.out.say("Paste an API token (POST /api/v1/tokens makes one), then press Enter:");
        const token = (await readStdin(ctx.stdin)).trim();
        if (!token) throw usageError("no token on stdin", "login");
        return signedInAs(ctx, url, token);
      }
      throw usageError("signing in by a code in the browser is not built yet: use --token", "login");
    },
  }),
  command({
    path: ["logout"],
    summary: "Revoke this machine's API token and forget it",
    examples: [["kws logout", "sign this machine out"]],
    async run(ctx) {
      const saved = ctx.config.read();
      if (!saved.token || !saved.url) throw notSignedIn("not signed in on this machine");
      let revoked = true;
      try {
        await new ApiClient(saved.url, saved.token).call("DELETE", "/tokens/current");
      } catch (err) {
        // A token the server no longer takes is as good as revoked; any other failure keeps it, to try again.
        if (!(err instanceof CliError && err.exitCode === EXIT.notSignedIn)) throw err;
        revoked = false;
      }
      ctx.config.write({ url: saved.url });
      ctx.out.result({ url: saved.url, revoked }, () => `Signed out of ${saved.url}${revoked ? "; the token is revoked" : " (the token was no longer valid)"}.`);
    },
  }),
  command({
    path: ["whoami"],
    summary: "Who this machine is signed in as, and where",
    examples: [["kws whoami", "show the account and the control plane"]],
    async run(ctx) {
      const api = ctx.api();
      const { user } = await api.call("GET", "/me");
      ctx.out.result({ url: api.baseUrl, user }, () => `${user.username} (${user.email}) at ${api.baseUrl}`);
    },
  }),
];
