/**
 * The agent carries its host credential and instance passwords to the gateway: over plain http://
 * it goes only to loopback, unless the operator passes --insecure-gateway. The agent runs as a
 * real process against a real HTTP server on this machine's non-loopback address.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { parseCliArgs, UsageError } from "../../agent/cli-args";
import { runDoctor } from "../../agent/doctor";
import { StateDir } from "../../agent/state";

const env = { isRoot: false, homeDir: "/home/op" };

/** An IPv4 address of this machine that is not loopback: where a remote agent would reach the gateway. */
function outsideAddress(): string {
  const found = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal);
  assert.ok(found, "this machine needs a non-loopback IPv4 address for this test");
  return found.address;
}

let server: Server;
let gatewayUrl: string;
const requests: { path: string; body: string }[] = [];
const dirs: string[] = [];

before(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      requests.push({ path: req.url ?? "", body });
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "unauthorized", message: "unknown token", requestId: "r1" } }));
    });
  });
  server.listen(0, "0.0.0.0");
  await new Promise((resolve) => server.once("listening", resolve));
  gatewayUrl = `http://${outsideAddress()}:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "kws-insecure-"));
  dirs.push(dir);
  return dir;
}

/** agent/main.ts as operators run it: its exit code and what it printed. */
function agent(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "agent/main.ts", ...args], {
    env: { ...process.env, KWS_WIREGUARD: "off", LXD_SOCKET: "/nonexistent/lxd.socket", ...extraEnv },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

describe("a plain http:// gateway off loopback", () => {
  test("enrolling is refused before the token is sent, with a message naming --insecure-gateway; with the flag the request goes", async () => {
    const before = requests.length;
    const refused = await agent(["--gateway", gatewayUrl, "--enroll", "kws_enroll_secret", "--state-dir", stateDir()]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /plain http/);
    assert.match(refused.stderr, /--insecure-gateway/);
    assert.equal(requests.length, before, "nothing reached the gateway");

    const allowed = await agent(["--gateway", gatewayUrl, "--enroll", "kws_enroll_secret", "--state-dir", stateDir(), "--insecure-gateway"]);
    assert.equal(allowed.code, 1, allowed.stderr);
    assert.match(allowed.stderr, /does not know this token/, "the gateway was asked");
    assert.equal(requests.at(-1)?.path, "/api/v1/agent/enroll");
    assert.match(requests.at(-1)?.body ?? "", /kws_enroll_secret/);
  });

  test("KWS_GATEWAY_URL is held to the same rule", async () => {
    const before = requests.length;
    const refused = await agent(["--enroll", "kws_enroll_secret", "--state-dir", stateDir()], { KWS_GATEWAY_URL: gatewayUrl });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /--insecure-gateway/);
    assert.equal(requests.length, before);
  });

  test("a gateway remembered at enrollment is refused at a start without the flag", async () => {
    const dir = stateDir();
    await new StateDir({ dir }).saveCredential({
      hostId: "00000000-0000-4000-8000-000000000001",
      hostName: "h1",
      credential: "kws_host_secret",
      gatewayUrl,
    });
    const refused = await agent(["--state-dir", dir]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /cannot start: the gateway http:\/\/\S+ is plain http.*--insecure-gateway/);
  });

  test("doctor reports it as a failed gateway check whose fix names the flag, and does not call the gateway", async () => {
    const before = requests.length;
    const lines: string[] = [];
    const { exitCode } = await runDoctor({ gatewayUrl, socketCandidates: [], searchPath: "/nonexistent", print: (l) => lines.push(l) });
    assert.equal(exitCode, 1);
    const line = lines.find((l) => l.startsWith("FAIL gateway: "));
    assert.ok(line, lines.join("\n"));
    assert.match(line, /plain http.*— fix: .*--insecure-gateway/);
    assert.equal(requests.length, before);
    const allowed: string[] = [];
    await runDoctor({ gatewayUrl, insecureGateway: true, socketCandidates: [], searchPath: "/nonexistent", print: (l) => allowed.push(l) });
    assert.ok(allowed.some((l) => l.startsWith("FAIL gateway: ") && l.includes("answered HTTP 401")), allowed.join("\n"));
  });
});

describe("the command line", () => {
  test("loopback and https gateways need no flag", () => {
    for (const url of ["http://127.0.0.1:8080", "http://127.3.2.1", "http://localhost:8080/kws", "http://[::1]:8080", "https://kws.example.org", "https://203.0.113.5:8443"]) {
      assert.equal(parseCliArgs(["--gateway", url], env).gatewayUrl, url);
    }
  });

  test("a plain http gateway elsewhere is a usage error naming the flag, unless it is given", () => {
    for (const url of ["http://kws.example.org:8080", "http://203.0.113.5", "http://[2001:db8::1]:8080", "http://127.0.0.1.example.org", "http://localhost.example.org"]) {
      assert.throws(() => parseCliArgs(["--gateway", url], env), (err: unknown) => err instanceof UsageError && /--insecure-gateway/.test(err.message), url);
      assert.equal(parseCliArgs(["--gateway", url, "--insecure-gateway"], env).insecureGateway, true);
    }
  });
});
