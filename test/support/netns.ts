import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Runs a command, throwing with its stderr when it fails. */
export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
}

const quietly = (f: () => unknown) => {
  try {
    f();
  } catch {
    // Already gone.
  }
};

/**
 * A network namespace joined to the host by a veth pair, playing a device on its own network: the
 * host side of the pair gets `hostAddress`, the namespace side `address` (a /30 between them).
 * No default route unless asked for: like a device on the internet, it reaches the host's endpoint
 * and nothing behind the host except through the tunnel. A namespace playing a container behind the
 * host takes `defaultRoute`, so its answers find their way back.
 */
export class Namespace {
  private readonly children: ChildProcess[] = [];
  private wgInterface?: string;

  private constructor(
    readonly name: string,
    readonly address: string,
    readonly hostAddress: string,
  ) {}

  static create(name: string, hostAddress: string, address: string, o: { defaultRoute?: boolean } = {}): Namespace {
    const ns = new Namespace(name, address, hostAddress);
    sh("ip", ["netns", "add", name]);
    sh("ip", ["link", "add", `${name}h`, "type", "veth", "peer", "name", "eth0", "netns", name]);
    sh("ip", ["address", "add", `${hostAddress}/30`, "dev", `${name}h`]);
    sh("ip", ["link", "set", `${name}h`, "up"]);
    sh("ip", ["-n", name, "address", "add", `${address}/30`, "dev", "eth0"]);
    sh("ip", ["-n", name, "link", "set", "eth0", "up"]);
    sh("ip", ["-n", name, "link", "set", "lo", "up"]);
    if (o.defaultRoute) sh("ip", ["-n", name, "route", "add", "default", "via", hostAddress]);
    return ns;
  }

  /**
   * Brings up a wireguard-go interface from a wg-quick config as the API gave it: `wg setconf`
   * takes the keys and the peer, the address and the routes of AllowedIPs are set with `ip`.
   * `widen` adds destinations to AllowedIPs and routes, as a client trying to get further would.
   */
  wireguardUp(ifname: string, config: string, o: { privateKey?: string; widen?: string[] } = {}): void {
    const field = (key: string) => config.match(new RegExp(`^${key} = (.+)$`, "m"))?.[1]?.trim() ?? "";
    const privateKey = o.privateKey;
    const dir = mkdtempSync(join(tmpdir(), "kws-wgc-"));
    const conf = join(dir, "wg.conf");
    const allowed = [...field("AllowedIPs").split(/,\s*/), ...(o.widen ?? [])];
    writeFileSync(
      conf,
      `[Interface]\nPrivateKey = ${privateKey ?? field("PrivateKey")}\n\n[Peer]\nPublicKey = ${field("PublicKey")}\nEndpoint = ${field("Endpoint")}\nAllowedIPs = ${allowed.join(", ")}\nPersistentKeepalive = ${field("PersistentKeepalive")}\n`,
      { mode: 0o600 },
    );
    sh("ip", ["netns", "exec", this.name, "wireguard-go", ifname]);
    this.wgInterface = ifname;
    try {
      sh("ip", ["netns", "exec", this.name, "wg", "setconf", ifname, conf]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The way to the endpoint (the host), which is all this network knows beyond itself.
    sh("ip", ["-n", this.name, "route", "replace", `${field("Endpoint").replace(/:\d+$/, "")}/32`, "via", this.hostAddress]);
    sh("ip", ["-n", this.name, "address", "add", field("Address"), "dev", ifname]);
    sh("ip", ["-n", this.name, "link", "set", ifname, "up"]);
    for (const net of allowed) sh("ip", ["-n", this.name, "route", "replace", net, "dev", ifname]);
  }

  /** A TCP server on address:port in the namespace that answers "hi". */
  async listen(address: string, port = 8080): Promise<void> {
    // A client that leaves at once resets the connection: that must not kill the server.
    const script = `require("net").createServer((s) => { s.on("error", () => {}); s.end("hi"); }).listen(${port}, ${JSON.stringify(address)}, () => console.log("listening"))`;
    const child = spawn("ip", ["netns", "exec", this.name, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    this.children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once("data", () => resolve());
      child.once("exit", (code) => reject(new Error(`server in ${this.name} exited with ${code}`)));
    });
  }

  /** "open" when a TCP connection from here to address:port is accepted, else what happened (timeout, ECONNREFUSED...). */
  connect(address: string, port: number): Promise<string> {
    const script = `const s = require("net").connect({ host: ${JSON.stringify(address)}, port: ${port}, timeout: 1500 });
s.on("connect", () => { process.stdout.write("open"); process.exit(0); });
s.on("timeout", () => { process.stdout.write("timeout"); process.exit(0); });
s.on("error", (e) => { process.stdout.write(e.code || e.message); process.exit(0); });`;
    return new Promise((resolve, reject) => {
      const child = spawn("ip", ["netns", "exec", this.name, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      child.once("exit", () => resolve(out));
      child.once("error", reject);
    });
  }

  /** Polls until address:port accepts (a device retries a failed handshake only every 5 s). */
  async reaches(address: string, port: number, ms = 15_000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) if ((await this.connect(address, port)) === "open") return true;
    return false;
  }

  destroy(): void {
    for (const child of this.children) child.kill();
    // Explicitly: wireguard-go keeps its namespace alive, so deleting the namespace alone would leave it running.
    if (this.wgInterface) quietly(() => sh("ip", ["-n", this.name, "link", "del", this.wgInterface!]));
    quietly(() => sh("ip", ["link", "del", `${this.name}h`]));
    quietly(() => sh("ip", ["netns", "del", this.name]));
  }
}
