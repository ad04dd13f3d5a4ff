import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import QRCode from "qrcode";
import { generateKeyPair } from "../../shared/crypto/x25519";
import type { ApiClient } from "../api";
import { CliError, EXIT } from "../errors";
import { followJob } from "../jobs";
import { command } from "../registry";

/** `kws-<name>.conf`, as the dashboard names the download. */
const defaultFile = (name: string) => `kws-${name.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-|-$/g, "") || "device"}.conf`;

/** Creates the file for the config now (0600, never over an existing one), before the device exists anywhere. */
function createPrivateFile(path: string): number {
  try {
    return openSync(path, "wx", 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`cannot write ${path}: ${code === "EEXIST" ? "it exists" : code}`, EXIT.failed, "choose another file with --out FILE");
  }
}

/** A device of the person's by id or by name (names may repeat: then the id is needed). */
async function findDevice(api: ApiClient, nameOrId: string) {
  const { devices } = await api.call("GET", "/devices");
  const byId = devices.find((d) => d.id === nameOrId);
  if (byId) return byId;
  const named = devices.filter((d) => d.name === nameOrId);
  if (named.length === 1) return named[0]!;
  if (named.length > 1) throw new CliError(`${named.length} devices are named ${nameOrId}`, EXIT.failed, "name one by its id (`kws devices list` shows them)");
  throw new CliError(`no device of yours is named ${nameOrId}`, EXIT.failed, "`kws devices list` shows your devices");
}

const ago = (iso: string | null) => (iso ? `${Math.round((Date.now() - Date.parse(iso)) / 1000)} s ago` : "never");

export const deviceCommands = [
  command({
    path: ["devices", "add"],
    summary: "Register a WireGuard device: the key pair is made here, its private key never leaves this machine",
    usage: "NAME [--qr] [--out FILE]",
    args: { min: 1, max: 1 },
    options: {
      out: { type: "string", value: "FILE", description: "where to write the WireGuard config, 0600 (default: kws-NAME.conf here)" },
      qr: { type: "boolean", description: "also show the config as a QR code, for the WireGuard app on a phone" },
    },
    examples: [
      ["kws devices add laptop && sudo wg-quick up ./kws-laptop.conf", "register this laptop and connect"],
      ["kws devices add phone --qr --out phone.conf", "register a phone: scan the code with the WireGuard app"],
    ],
    async run(ctx) {
      const api = ctx.api();
      const name = ctx.args[0]!;
      const path = resolve(ctx.options.out ?? defaultFile(name));
      const fd = createPrivateFile(path);
      const keys = generateKeyPair();
      try {
        const created = await api.call("POST", "/devices", { name, publicKey: keys.publicKey });
        // The server wrote a placeholder where the private key goes: it never saw the key.
        const config = created.config.replace(/^PrivateKey = .*$/m, `PrivateKey = ${keys.privateKey}`);
        writeSync(fd, config);
        if (ctx.options.qr && !ctx.out.json) ctx.out.say(await QRCode.toString(config, { type: "terminal", small: true }));
        const job = await followJob(api, ctx.out, created.job.id, "Adding the device");
        const device = await findDevice(api, created.device.id);
        ctx.out.result({ device, file: path, job }, () => [
          `Device ${name} added: ${created.device.address}, config in ${path}.`,
          `Connect with \`sudo wg-quick up ${path}\` or import it into the WireGuard app.`,
        ]);
      } catch (err) {
        // A device that failed to register (or was rolled back) leaves no config behind.
        rmSync(path, { force: true });
        throw err;
      } finally {
        closeSync(fd);
      }
    },
  }),
  command({
    path: ["devices", "list"],
    summary: "Your WireGuard devices, with their addresses and last handshakes",
    examples: [["kws devices list", "show them"]],
    async run(ctx) {
      const { devices } = await ctx.api().call("GET", "/devices");
      ctx.out.result({ devices }, () =>
        ctx.out.table(
          ["name", "address", "state", "online", "handshake", "public key", "id"],
          devices.map((d) => [d.name, d.address, d.state, d.online ? "yes" : "no", ago(d.lastHandshakeAt), d.publicKey, d.id]),
          "No devices yet: add one with `kws devices add NAME`.",
        ),
      );
    },
  }),
  command({
    path: ["devices", "remove"],
    summary: "Remove a device: its peer leaves the host and its address is freed",
    usage: "NAME|ID",
    args: { min: 1, max: 1 },
    examples: [["kws devices remove laptop", "remove the device named laptop"]],
    async run(ctx) {
      const api = ctx.api();
      const device = await findDevice(api, ctx.args[0]!);
      const { job } = await api.call("DELETE", `/devices/${device.id}`);
      const done = await followJob(api, ctx.out, job.id, "Removing the device");
      ctx.out.result({ device, job: done }, () => `Device ${device.name} removed.`);
    },
  }),
];
