/**
 * Reconciling a large WireGuard peer set: the agent's `wg.sync` code (agent/wireguard/manager.ts:
 * dump, diff, batched `wg set`, the nftables table) against `wg syncconf` of the same peers from a
 * file, each on a fresh real interface (wireguard-go here, kernel WireGuard where the host has it).
 *
 *   npm run bench -- wg-sync
 *
 * Each repetition recreates both interfaces empty, then times one full sync of BENCH_WG_PEERS
 * (default 5000) random keys with addresses from a /18; the two sides alternate who goes first.
 * The `wg syncconf` side gets its file written before the clock starts; the KWS side is timed
 * from the command's peer list to peers and firewall applied. Then the same set is synced again,
 * unchanged (`resync`: what the periodic reconcile costs). Medians of BENCH_WG_REPS (default 5).
 * Needs root, wg, wireguard-go and nft; interface and table names are random, removed at the end.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatIPv4, parseIPv4 } from "../shared/addresses/pool";
import { createLogger } from "../shared/logger";
import type { WireGuardPeer } from "../shared/protocol/wireguard";
import { generateKeyPair } from "../shared/crypto/x25519";
import { WireGuard } from "../agent/wireguard/manager";
import { envInt, p50, progress, round, runBench, time, until } from "./support/common";

const log = progress("wg-sync");
const SUBNET = "10.200.0.1/18";

function sh(file: string, args: string[], env?: NodeJS.ProcessEnv): string {
  return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...(env ? { env } : {}) });
}

/** Deletes the interface and waits for its wireguard-go to exit (it holds the name's control socket until then). */
async function deleteLink(name: string): Promise<void> {
  try {
    sh("ip", ["link", "del", "dev", name]);
  } catch {
    // already gone
  }
  await until(async () => !existsSync(`/var/run/wireguard/${name}.sock`), 10_000, `wireguard-go of ${name} to exit`);
}

function randomPeers(count: number): WireGuardPeer[] {
  const first = parseIPv4("10.200.0.2");
  return Array.from({ length: count }, (_, i) => ({
    publicKey: generateKeyPair().publicKey,
    address: `${formatIPv4(first + i)}/32`,
    ownerAddress: `172.30.${(i >> 8) & 255}.${(i & 255) || 1}`,
  }));
}

/** The plain wireguard-tools way: an interface made by hand, its peers from a file. */
async function createBaseline(name: string, keyFile: string, port: number): Promise<void> {
  await deleteLink(name);
  sh("wireguard-go", [name], { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: "1" });
  sh("wg", ["set", name, "private-key", keyFile, "listen-port", String(port)]);
  sh("ip", ["address", "add", "10.201.0.1/18", "dev", name]);
  sh("ip", ["link", "set", "dev", name, "up"]);
}

export function run(): Promise<Record<string, unknown>> {
  const peerCount = envInt("BENCH_WG_PEERS", 5000);
  const reps = envInt("BENCH_WG_REPS", 5);
  return runBench(log, {
    async setup(cleanups) {
      const id = randomBytes(3).toString("hex");
      const names = { kws: `kwsb${id}k`, baseline: `kwsb${id}s`, table: `kwsb${id}` };
      const dir = mkdtempSync(join(tmpdir(), "kws-bench-wg-"));
      cleanups.add("temporary files", async () => rmSync(dir, { recursive: true, force: true }));
      cleanups.add("interfaces", () => Promise.all([names.kws, names.baseline].map(deleteLink)));
      cleanups.add("nft table", async () => sh("nft", ["delete", "table", "inet", names.table]));
      const peers = randomPeers(peerCount);
      const confFile = join(dir, "peers.conf");
      writeFileSync(confFile, peers.map((p) => `[Peer]\nPublicKey = ${p.publicKey}\nAllowedIPs = ${p.address}\n`).join("\n"), { mode: 0o600 });
      const keyFile = join(dir, "baseline.key");
      writeFileSync(keyFile, `${generateKeyPair().privateKey}\n`, { mode: 0o600 });
      const logger = createLogger({ bench: "wg-sync" }, { level: "warn", write: (line) => process.stderr.write(`${line}\n`) });
      return { names, dir, peers, confFile, keyFile, logger };
    },

    async measure({ names, dir, peers, confFile, keyFile, logger }) {
      const ms = { kws: [] as number[], syncconf: [] as number[], kwsResync: [] as number[], syncconfResync: [] as number[] };
      for (let rep = 0; rep < reps; rep++) {
        await deleteLink(names.kws);
        // A fresh state directory: the manager starts with no saved peers and makes a new, empty interface.
        const wireguard = new WireGuard({
          config: { interfaceName: names.kws, address: SUBNET, listenPort: 52_100, table: names.table },
          stateDir: mkdtempSync(join(dir, "state-")),
          logger,
          reconcileIntervalMs: 3_600_000,
        });
        await wireguard.start();
        await createBaseline(names.baseline, keyFile, 52_101);

        const sides = [
          async () => ms.kws.push(await time(() => wireguard.sync(peers))),
          async () => ms.syncconf.push(await time(async () => sh("wg", ["syncconf", names.baseline, confFile]))),
        ];
        if (rep % 2 === 1) sides.reverse();
        for (const side of sides) await side();
        ms.kwsResync.push(await time(() => wireguard.sync(peers)));
        ms.syncconfResync.push(await time(async () => sh("wg", ["syncconf", names.baseline, confFile])));
        wireguard.stop();

        const applied = sh("wg", ["show", names.kws, "peers"]).trim().split("\n").length;
        if (applied !== peerCount) throw new Error(`${names.kws} has ${applied} peers after the sync, expected ${peerCount}`);
        log(`rep ${rep + 1}/${reps}: kws ${round(ms.kws.at(-1)!, 0)} ms, syncconf ${round(ms.syncconf.at(-1)!, 0)} ms`);
      }
      return ms;
    },

    report(ms) {
      const ratio = round(p50(ms.kws) / p50(ms.syncconf));
      return {
        peers: peerCount,
        kwsMs: p50(ms.kws),
        syncconfMs: p50(ms.syncconf),
        ratio,
        met: ratio <= 1.5,
        reps,
        resync: { kwsMs: p50(ms.kwsResync), syncconfMs: p50(ms.syncconfResync) },
      };
    },
  });
}
