import { setTimeout as delay } from "node:timers/promises";
import type { LxdClient } from "../lxd/client";
import type { ExecOptions } from "../lxd/types";
import { JobError } from "./handler";

/**
 * What makes a running container a person's development machine. Every step is idempotent (a
 * redelivered deploy runs them all again) and every value (user name, password, nameserver) reaches
 * the container as an exec environment variable, a file written through the files API or a plain
 * argv element: the shell scripts below are constants.
 */

const PROVISION_FAILED = "provision_failed";

async function run(lxd: LxdClient, name: string, what: string, options: ExecOptions): Promise<string> {
  const { exitCode, stdout, stderr } = await lxd.exec(name, options);
  if (exitCode !== 0) {
    const detail = (stderr.trim() || stdout.trim()).split("\n").slice(-3).join(" / ").slice(0, 500);
    throw new JobError(PROVISION_FAILED, `${what} failed in ${name} (exit ${exitCode})${detail ? `: ${detail}` : ""}`);
  }
  return stdout;
}

const sh = (script: string, env: Record<string, string> = {}): ExecOptions => ({ command: ["/bin/sh", "-c", script], env });

/** A resolver for images that have none (the bridge's dnsmasq answers); one that has one is left alone. */
export async function ensureDns(lxd: LxdClient, name: string, nameserver: string): Promise<void> {
  await run(
    lxd,
    name,
    "setting the DNS resolver",
    sh(`grep -qs '^nameserver' /etc/resolv.conf || printf 'nameserver %s\\n' "$KWS_DNS" > /etc/resolv.conf`, { KWS_DNS: nameserver }),
  );
}

export interface UserIds {
  uid: number;
  gid: number;
}

/** The user, in the sudo group, with exactly this password (set again on every run). */
export async function ensureUser(lxd: LxdClient, name: string, username: string, password: string): Promise<UserIds> {
  const out = await run(
    lxd,
    name,
    `creating user ${username}`,
    sh(
      [
        "set -e",
        'id -u "$KWS_USER" >/dev/null 2>&1 || useradd --create-home --user-group --shell /bin/bash "$KWS_USER"',
        'usermod -aG sudo "$KWS_USER"',
        'printf \'%s:%s\\n\' "$KWS_USER" "$KWS_PASSWORD" | chpasswd',
        'printf \'%s %s\\n\' "$(id -u "$KWS_USER")" "$(id -g "$KWS_USER")"',
      ].join("\n"),
      { KWS_USER: username, KWS_PASSWORD: password },
    ),
  );
  const [uid, gid] = out.trim().split(/\s+/).map(Number);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new JobError(PROVISION_FAILED, `could not read the ids of ${username} in ${name}`);
  return { uid: uid!, gid: gid! };
}

// Named to sort first: sshd keeps the first value it reads, and cloud images ship
// 50-cloud-init.conf with "PasswordAuthentication no".
const SSHD_DROP_IN = "/etc/ssh/sshd_config.d/00-kws.conf";
const SSHD_CONFIG = "# Written by KWS: people log in with their own account and password, never as root.\nPermitRootLogin no\nPasswordAuthentication yes\n";

/** Root login refused, password login allowed, checked with sshd -t, then ssh restarted. */
export async function ensureSsh(lxd: LxdClient, name: string): Promise<void> {
  // Images ship without host keys (first boot makes them): make any that are missing now, not racing that.
  await run(lxd, name, "making SSH host keys", { command: ["ssh-keygen", "-A"] });
  await lxd.pushFile(name, SSHD_DROP_IN, SSHD_CONFIG, { mode: 0o644 });
  // sshd -t needs its privilege separation directory, which ssh.service makes only once boot reaches it.
  await run(lxd, name, "making sshd's runtime directory", { command: ["install", "-d", "-m", "0755", "/run/sshd"] });
  await run(lxd, name, "checking the SSH configuration", { command: ["/usr/sbin/sshd", "-t"] });
  await run(lxd, name, "enabling SSH", { command: ["systemctl", "enable", "ssh"] });
  await run(lxd, name, "restarting SSH", { command: ["systemctl", "restart", "ssh"] });
}

// The official installer: only in production images, which do not carry code-server.
const CODE_SERVER_INSTALL = "command -v curl >/dev/null || (apt-get update && apt-get install -y curl); curl -fsSL https://code-server.dev/install.sh | sh";

export function codeServerConfig(password: string, port: number): string {
  // A JSON string is a valid YAML double-quoted scalar: the password needs no other escaping.
  return `bind-addr: 0.0.0.0:${port}\nauth: password\npassword: ${JSON.stringify(password)}\ncert: false\n`;
}

/**
 * code-server for the user: installed if absent, configured (all interfaces, password auth with
 * the instance password), enabled so it starts on boot, and restarted so a new password applies.
 */
export async function ensureIde(
  lxd: LxdClient,
  name: string,
  user: { username: string; password: string } & UserIds,
  port: number,
  progress: (message: string) => void,
): Promise<void> {
  const present = await lxd.exec(name, sh("command -v code-server >/dev/null || test -x /usr/local/bin/code-server"));
  if (present.exitCode !== 0) {
    progress("installing code-server with its official install script");
    await run(lxd, name, "installing code-server", { ...sh(CODE_SERVER_INSTALL), timeoutMs: 15 * 60_000 });
  }
  const home = `/home/${user.username}`;
  await run(lxd, name, "making code-server's config directory", {
    command: ["install", "-d", "-m", "0700", "-o", String(user.uid), "-g", String(user.gid), `${home}/.config`, `${home}/.config/code-server`],
  });
  await lxd.pushFile(name, `${home}/.config/code-server/config.yaml`, codeServerConfig(user.password, port), {
    uid: user.uid,
    gid: user.gid,
    mode: 0o600,
  });
  const unit = `code-server@${user.username}`;
  await run(lxd, name, `enabling ${unit}`, { command: ["systemctl", "enable", unit] });
  await run(lxd, name, `restarting ${unit}`, { command: ["systemctl", "restart", unit] });
}

/** Until something answers HTTP on address:port (code-server's /healthz), or the timeout. */
export async function waitForHttp(address: string, port: number, signal: AbortSignal, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    try {
      const res = await fetch(`http://${address}:${port}/healthz`, { signal: AbortSignal.any([signal, AbortSignal.timeout(2000)]) });
      await res.body?.cancel();
      return;
    } catch (err) {
      if (signal.aborted) throw err;
      last = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    }
    if (Date.now() >= deadline) {
      throw new JobError(PROVISION_FAILED, `nothing answered on ${address}:${port} within ${Math.round(timeoutMs / 1000)} s (${last})`);
    }
    await delay(200, undefined, { signal });
  }
}
