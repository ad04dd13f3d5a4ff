import { statSync } from "node:fs";
import { LxdUnavailableError } from "./errors";

/** Where the Debian package, the snap and Incus put their sockets, in the order we try them. */
export const DEFAULT_LXD_SOCKETS = [
  "/var/lib/lxd/unix.socket",
  "/var/snap/lxd/common/lxd/unix.socket",
  "/var/lib/incus/unix.socket",
] as const;

export interface FindLxdSocketOptions {
  /** The operator's override (LXD_SOCKET); tried first. The caller reads the environment. */
  socketPath?: string;
  /** Replaces DEFAULT_LXD_SOCKETS; for tests. */
  candidates?: readonly string[];
}

/** The first candidate socket that exists, or undefined when none does. */
export function findLxdSocket(options: FindLxdSocketOptions = {}): string | undefined {
  const candidates = [
    ...(options.socketPath ? [options.socketPath] : []),
    ...(options.candidates ?? DEFAULT_LXD_SOCKETS),
  ];
  return candidates.find(isSocket);
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** Like findLxdSocket, but throws an error that says what was tried and how to fix it. */
export function requireLxdSocket(options: FindLxdSocketOptions = {}): string {
  const found = findLxdSocket(options);
  if (found) return found;
  const tried = [
    ...(options.socketPath ? [`LXD_SOCKET=${options.socketPath}`] : []),
    ...(options.candidates ?? DEFAULT_LXD_SOCKETS),
  ];
  throw new LxdUnavailableError(undefined, `no LXD socket found (tried ${tried.join(", ")})`);
}
