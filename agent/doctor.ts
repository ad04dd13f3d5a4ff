import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { LxdClient } from "./lxd/client";
import { LxdUnavailableError } from "./lxd/errors";
import { DEFAULT_LXD_SOCKETS, findLxdSocket } from "./lxd/socket";
import { gatewayEndpoint } from "./cli-args";
import { insecureGateway } from "./gateway-url";
import { describeFetchError } from "./enroll";

export type CheckStatus = "ok" | "FAIL" | "warn";

export interface DoctorCheck {
  status: CheckStatus;
  name: string;
  detail: string;
  fix?: string;
}

export interface DoctorOptions {
  /** --lxd-socket / LXD_SOCKET */
  lxdSocket?: string;
  /** Replaces the Debian/snap/Incus socket paths, so a test can hide a daemon that exists. */
  socketCandidates?: readonly string[];
  gatewayUrl?: string;
  /** --insecure-gateway */
  insecureGateway?: boolean;
  storagePool?: string;
  bridge?: string;
  image?: string;
  /** Where to look for wg, wireguard-go and nft (the caller passes PATH). */
  searchPath?: string;
  print?: (line: string) => void;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

const SETUP_FIX = "sudo scripts/host-setup.sh (or: apt-get install lxd, or set LXD_SOCKET / --lxd-socket to a running daemon's socket)";
const START_FIX = "lxd --group root & (with systemd: systemctl start lxd; with the snap: snap start lxd)";
const WIREGUARD_FIX = "apt-get install wireguard-tools wireguard-go";
const NFT_FIX = "apt-get install nftables";
const FALLBACK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function formatCheck(check: DoctorCheck): string {
  return `${check.status} ${check.name}: ${check.detail}${check.fix ? ` — fix: ${check.fix}` : ""}`;
}

/** Checks what the agent needs on this host, one printed line per check; exit code 1 when any FAIL. */
export async function runDoctor(options: DoctorOptions = {}): Promise<{ exitCode: 0 | 1; checks: DoctorCheck[] }> {
  const print = options.print ?? ((line: string) => console.log(line));
  const checks: DoctorCheck[] = [];
  const report = (check: DoctorCheck) => {
    checks.push(check);
    print(formatCheck(check));
  };

  const lxd = lxdSocketCheck(options, report);
  if (lxd) await lxdChecks(lxd, options, report);
  for (const [binary, what, fix] of [
    ["wg", "wg (wireguard-tools)", WIREGUARD_FIX],
    ["wireguard-go", "wireguard-go (WireGuard where the kernel has no module)", WIREGUARD_FIX],
    ["nft", "nft (nftables: the rules that keep each device to its owner's container)", NFT_FIX],
  ] as const) {
    const found = findExecutable(binary, options.searchPath ?? FALLBACK_PATH);
    report(found ? { status: "ok", name: binary, detail: found } : { status: "FAIL", name: binary, detail: `${what} not found on PATH`, fix });
  }
  if (options.gatewayUrl) report(await gatewayCheck(options.gatewayUrl, options));

  return { exitCode: checks.some((c) => c.status === "FAIL") ? 1 : 0, checks };
}

function lxdSocketCheck(options: DoctorOptions, report: (check: DoctorCheck) => void): LxdClient | undefined {
  const candidates = options.socketCandidates ?? DEFAULT_LXD_SOCKETS;
  const found = findLxdSocket({ ...(options.lxdSocket ? { socketPath: options.lxdSocket } : {}), candidates });
  if (!found) {
    const tried = [...(options.lxdSocket ? [`${options.lxdSocket} (LXD_SOCKET/--lxd-socket)`] : []), ...candidates];
    report({
      status: "FAIL",
      name: "lxd-socket",
      detail: `no LXD socket found (tried ${tried.join(", ") || "nothing"}); LXD checks skipped`,
      fix: SETUP_FIX,
    });
    return undefined;
  }
  if (options.lxdSocket && found !== options.lxdSocket) {
    report({
      status: "warn",
      name: "lxd-socket",
      detail: `${options.lxdSocket} is not a socket; using ${found} instead`,
      fix: `point LXD_SOCKET / --lxd-socket at ${found}, or unset it`,
    });
  } else {
    report({ status: "ok", name: "lxd-socket", detail: found });
  }
  return new LxdClient({ socketPath: found, timeoutMs: options.timeoutMs ?? 5000 });
}

async function lxdChecks(lxd: LxdClient, options: DoctorOptions, report: (check: DoctorCheck) => void): Promise<void> {
  try {
    const info = await lxd.serverInfo();
    report({ status: "ok", name: "lxd-daemon", detail: `${info.server || "lxd"} ${info.serverVersion} answers on ${lxd.socketPath}` });
  } catch (err) {
    // LxdUnavailableError ends with its own advice; the fix column carries that here.
    const detail =
      err instanceof LxdUnavailableError ? err.message.split(". Run ")[0] : `LXD on ${lxd.socketPath} did not answer: ${(err as Error).message}`;
    report({ status: "FAIL", name: "lxd-daemon", detail: `${detail}; remaining LXD checks skipped`, fix: START_FIX });
    return;
  }
  const poolName = options.storagePool ?? "default";
  const bridgeName = options.bridge ?? "lxdbr0";
  const imageAlias = options.image ?? "kws/busybox";
  try {
    const pool = await lxd.getStoragePool(poolName);
    report(
      pool
        ? { status: "ok", name: "storage-pool", detail: `${poolName} (${pool.driver})` }
        : { status: "FAIL", name: "storage-pool", detail: `storage pool ${poolName} does not exist`, fix: `lxc storage create ${poolName} dir (or: sudo scripts/host-setup.sh)` },
    );
    const bridge = await lxd.getNetwork(bridgeName);
    report(
      bridge
        ? { status: "ok", name: "bridge", detail: `${bridgeName} (${bridge.type}, ${bridge.config["ipv4.address"] ?? "no IPv4"})` }
        : {
            status: "FAIL",
            name: "bridge",
            detail: `network ${bridgeName} does not exist`,
            fix: `lxc network create ${bridgeName} ipv4.address=172.30.0.1/24 ipv4.nat=true ipv6.address=none (or: sudo scripts/host-setup.sh)`,
          },
    );
    report(
      (await lxd.imageAliasExists(imageAlias))
        ? { status: "ok", name: "image", detail: imageAlias }
        : { status: "warn", name: "image", detail: `image ${imageAlias} is missing (tests and quick checks use it)`, fix: "sudo scripts/host-setup.sh" },
    );
  } catch (err) {
    report({ status: "FAIL", name: "lxd-daemon", detail: `LXD stopped answering: ${(err as Error).message}`, fix: START_FIX });
  }
}

async function gatewayCheck(gatewayUrl: string, options: DoctorOptions): Promise<DoctorCheck> {
  const url = gatewayEndpoint(gatewayUrl, "healthz");
  const insecure = insecureGateway(gatewayUrl, options.insecureGateway ?? false);
  if (insecure) return { status: "FAIL", name: "gateway", detail: insecure.problem, fix: insecure.fix };
  const fix = `check --gateway (the control plane's base URL) and that the gateway runs: curl -fsS ${url}`;
  const started = Date.now();
  try {
    const res = await (options.fetch ?? fetch)(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 5000) });
    await res.body?.cancel();
    if (res.ok) return { status: "ok", name: "gateway", detail: `${url} answered ${res.status} in ${Date.now() - started} ms` };
    return { status: "FAIL", name: "gateway", detail: `${url} answered HTTP ${res.status}`, fix };
  } catch (err) {
    return { status: "FAIL", name: "gateway", detail: `cannot reach ${url}: ${describeFetchError(err)}`, fix };
  }
}

function findExecutable(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      continue;
    }
  }
  return undefined;
}
