import { z } from "zod";
import { strongPassword } from "../auth/password-rule";

/**
 * The rules for an instance's login: used by the API (400 naming the rule) and by the agent's
 * command schema, so a value that reaches a container has passed them twice.
 */

// Accounts a Debian or Ubuntu image already has, or that would shadow a system group.
export const RESERVED_USERNAMES = new Set([
  "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
  "www-data", "backup", "list", "irc", "gnats", "nobody", "systemd-network", "systemd-resolve",
  "systemd-timesync", "systemd-journal", "systemd-coredump", "messagebus", "syslog", "sshd",
  "_apt", "tss", "uuidd", "tcpdump", "landscape", "pollinate", "lxd", "ubuntu", "debian", "admin",
  "sudo", "adm", "wheel", "staff", "users", "operator", "shadow", "utmp", "video", "audio",
  "plugdev", "netdev", "dialout", "disk", "kmem", "tty", "dip", "ssh", "code-server",
]);

export const instanceUsername = z
  .string({ message: "must be a string" })
  .regex(/^[a-z][a-z0-9_-]{2,31}$/, "must be 3-32 characters: a lower-case letter, then lower-case letters, digits, '_' or '-'")
  .refine((v) => !RESERVED_USERNAMES.has(v), "is a system account name; choose another");

// Control characters would not survive chpasswd's line format or the config file, so they are
// refused rather than silently changed; every other character is set exactly.
export const instancePassword = strongPassword.refine((v) => !/[\u0000-\u001f\u007f]/.test(v), "must not contain control characters (newlines, tabs)");

/** The LXD name of a user's container: stable for the user, valid for LXD (≤ 63, letter first). */
export function instanceNameFor(userId: string): string {
  return `kws-${userId.toLowerCase()}`;
}
