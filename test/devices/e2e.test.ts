import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { generateKeyPair } from "../../shared/crypto/x25519";
import { Namespace, sh } from "../support/netns";
import { bodyAt, type BodyOf } from "../support/api";
import { launchChromium } from "../support/chromium";
import { Pipeline } from "../support/pipeline";

/**
 * WireGuard devices end to end on this machine: the agent's real wireguard-go interface and
 * nftables table, two users with busybox containers serving TCP 8080, and a network namespace per
 * device that brings up its own wireguard-go interface from the config the API returned.
 */
const id = Math.random().toString(36).slice(2, 6);
const k = 10 + Math.floor(Math.random() * 200);
const IF = `kwsd${id}`;
const PORT = 52_000 + Math.floor(Math.random() * 1000);
const TUNNEL = `10.212.${k}`;
const LINK = `10.211.${k}`;

let p: Pipeline;
const users: { token: string; ip: string; name: string }[] = [];
let nsA: Namespace;
let nsB: Namespace;
let hostKey: string;

const peers = () => sh("wg", ["show", IF, "peers"]).split("\n").filter(Boolean);

async function deploy(token: string) {
  const { name, ipv4 } = await p.deploy(token, { username: "dev", password: "Busy-Box-123" });
  // A TCP service in the container for devices to reach.
  assert.ok(ipv4, "the instance has its address");
  await p.lxd.exec(name, { command: ["/bin/busybox", "httpd", "-p", "8080", "-h", "/"] });
  return { token, ip: ipv4, name };
}

async function register(token: string, body: Record<string, unknown>) {
  const res = await p.api("POST", "/devices", body, token);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const job = await p.waitFinal(res.body.job.id, 60_000, token);
  assert.equal(job.status, "succeeded", JSON.stringify(job.error));
  return res.body;
}

before(async () => {
  p = await Pipeline.start({
    env: { KWS_BRIDGE_RANGE: "172.30.0.130-172.30.0.139", KWS_INSTANCE_IMAGE: "kws/busybox", KWS_INSTANCE_PROVISION: "false", KWS_INSTANCE_MEMORY_MB: "64" },
    wireguard: { interface: IF, address: `${TUNNEL}.1/24`, port: PORT, endpoint: `${LINK}.1:${PORT}` },
  });
  await p.until(async () => Boolean((await p.hostRow()).facts?.wireguard), 30_000, "wireguard facts");
  hostKey = (await p.hostRow()).facts?.wireguard?.publicKey ?? "";
  for (const token of [await p.userToken(), await p.userToken()]) users.push(await deploy(token));
  nsA = Namespace.create(`kwsn${id}a`, `${LINK}.1`, `${LINK}.2`);
  nsB = Namespace.create(`kwsn${id}b`, `${LINK}.5`, `${LINK}.6`);
});

after(async () => {
  nsA?.destroy();
  nsB?.destroy();
  for (const u of users) {
    const kill = await p.api("DELETE", "/instance", undefined, u.token).catch(() => undefined);
    if (kill?.status === 202) await p.waitFinal(kill.body.job.id, 60_000, u.token).catch(() => undefined);
  }
  await p?.close();
  try {
    sh("ip", ["link", "del", IF]);
  } catch {
    // Not there.
  }
  try {
    sh("nft", ["delete", "table", "inet", "kws"]);
  } catch {
    // Not there.
  }
});

let laptop: BodyOf<"POST", "/api/v1/devices", 201>;
let phone: BodyOf<"POST", "/api/v1/devices", 201>;
const phoneKeys = generateKeyPair();

test("a device reaches its owner's container through the tunnel, and nothing else; the API shows it online", async () => {
  const [a, b] = users as [(typeof users)[0], (typeof users)[0]];
  laptop = await register(a.token, { name: "Ada's laptop" });
  assert.match(laptop.config, /^PrivateKey = [A-Za-z0-9+/]{43}=$/m, "a key pair made for the person: the private key inside, once");
  assert.match(laptop.config, new RegExp(`^Address = ${TUNNEL}\\.2/32$`, "m"));
  assert.match(laptop.config, new RegExp(`^Endpoint = ${LINK}\\.1:${PORT}$`, "m"));
  assert.match(laptop.config, new RegExp(`^AllowedIPs = ${a.ip.replace(/\./g, "\\.")}/32, ${TUNNEL}\\.0/24$`, "m"));
  assert.match(laptop.config, /^PersistentKeepalive = 25$/m);
  assert.match(laptop.config, /^DNS = /m);
  assert.match(laptop.config, new RegExp(`^PublicKey = ${hostKey.replace(/[+/]/g, "\\$&")}$`, "m"));

  phone = await register(b.token, { name: "Bob's phone", publicKey: phoneKeys.publicKey });
  assert.match(phone.config, /^PrivateKey = <your device's private key>$/m, "a key brought by the person: a placeholder");
  assert.deepEqual(peers().sort(), [laptop.device.publicKey, phoneKeys.publicKey].sort(), "both peers are on the host");

  // Device A's client sends everything behind the host into the tunnel: the host must still keep it to its own container.
  nsA.wireguardUp(`kwsc${id}a`, laptop.config, { widen: ["172.30.0.0/24"] });
  nsB.wireguardUp(`kwsc${id}b`, phone.config, { privateKey: phoneKeys.privateKey });
  await nsB.listen(phone.device.address, 8080);

  assert.ok(await nsA.reaches(a.ip, 8080), "the owner's container answers through the tunnel");
  assert.ok(await nsB.reaches(b.ip, 8080), "the other user's device reaches theirs");
  assert.equal(await nsA.connect(b.ip, 8080), "timeout", "another user's container is out of reach");
  assert.equal(await nsA.connect(phone.device.address, 8080), "timeout", "so is another device");
  assert.equal(await nsA.connect(`${TUNNEL}.1`, 22), "timeout", "and the host's own services");

  let listed: BodyOf<"GET", "/api/v1/devices", 200>["devices"][number] | undefined;
  await p.until(
    async () => {
      listed = bodyAt(await p.api("GET", "/devices", undefined, a.token), 200).devices?.[0];
      return listed?.online === true && listed.rxBytes > 0 && listed.txBytes > 0;
    },
    30_000,
    `the device online with traffic (last: ${JSON.stringify(listed)})`,
  );
  assert.equal(listed!.state, "active");
  assert.ok(listed!.lastHandshakeAt);

  const qr = await fetch(`${p.url}/api/v1/devices/${laptop.device.id}/config?format=qr`, { headers: { authorization: `Bearer ${a.token}` } });
  assert.equal(qr.headers.get("content-type"), "image/svg+xml");
  assert.match(await qr.text(), /^<svg/);
  const conf = await fetch(`${p.url}/api/v1/devices/${laptop.device.id}/config`, { headers: { authorization: `Bearer ${a.token}` } });
  assert.match(conf.headers.get("content-disposition") ?? "", /^attachment; filename="kws-Ada-s-laptop\.conf"$/);
  const text = await conf.text();
  assert.match(text, /^PrivateKey = <your device's private key>$/m, "the private key was not kept");
  assert.match(text, new RegExp(`^Address = ${TUNNEL}\\.2/32$`, "m"));
});

test("reboot: the interface and KWS's table deleted, the agent restarted: the client reaches its container again unchanged", async () => {
  const a = users[0]!;
  await p.agent.stop("SIGTERM");
  sh("ip", ["link", "del", IF]);
  sh("nft", ["delete", "table", "inet", "kws"]);
  assert.equal(await nsA.connect(a.ip, 8080), "timeout");
  p.startAgent();
  await p.waitHostOnline();
  assert.ok(await nsA.reaches(a.ip, 8080, 40_000), "back without any change on the client");
  assert.equal((await p.hostRow()).facts?.wireguard?.publicKey, hostKey, "the same host key");
  assert.equal(await nsA.connect(users[1]!.ip, 8080), "timeout", "and the rules are back too");
});

test("bad input gets the documented 4xx and leaves no peer and no address behind", async () => {
  const [a, b] = users as [(typeof users)[0], (typeof users)[0]];
  const before = peers().length;
  const cases: [Record<string, unknown>, 400 | 409, string][] = [
    [{ name: "short key", publicKey: Buffer.alloc(31).toString("base64") }, 400, "publicKey"],
    [{ name: "long key", publicKey: Buffer.alloc(33).toString("base64") }, 400, "publicKey"],
    [{ name: "not base64", publicKey: "!".repeat(43) + "=" }, 400, "publicKey"],
    [{ name: "host key", publicKey: hostKey }, 400, "publicKey"],
    [{ name: "", publicKey: generateKeyPair().publicKey }, 400, "name"],
    [{ name: "dup", publicKey: phoneKeys.publicKey }, 409, "publicKey"],
  ];
  for (const [body, status, field] of cases) {
    const res = await p.api("POST", "/devices", body, a.token);
    assert.equal(res.status, status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
    assert.equal(bodyAt(res, status).error.issues?.[0]?.path, field, JSON.stringify(res.body));
  }
  // Two more is three: the fourth is refused.
  await register(a.token, { name: "tablet" });
  await register(a.token, { name: "desktop" });
  const fourth = await p.api("POST", "/devices", { name: "one too many" }, a.token);
  assert.equal(fourth.status, 409);
  assert.equal(fourth.body.error.code, "limit");
  // Another person's device: not found, whatever the verb.
  assert.equal((await p.api("GET", `/devices/${laptop.device.id}/config`, undefined, b.token)).status, 404);
  assert.equal((await p.api("DELETE", `/devices/${laptop.device.id}`, undefined, b.token)).status, 404);
  assert.equal((await p.api("GET", `/devices/not-an-id/config`, undefined, a.token)).status, 400);

  assert.equal(peers().length, before + 2, "only the two accepted devices added peers");
  const all = [...bodyAt(await p.api("GET", "/devices", undefined, a.token), 200).devices, ...bodyAt(await p.api("GET", "/devices", undefined, b.token), 200).devices];
  assert.equal(all.length, 4);
  assert.equal(new Set(all.map((d) => d.address)).size, 4, "no address given twice");
});

test("removing a device removes its peer: it reaches nothing, and its address is given to the next device", async () => {
  const a = users[0]!;
  const del = await p.api("DELETE", `/devices/${laptop.device.id}`, undefined, a.token);
  assert.equal(del.status, 202);
  assert.equal((await p.waitFinal(del.body.job.id, 60_000, a.token)).status, "succeeded");
  assert.ok(!peers().includes(laptop.device.publicKey), "wg show no longer lists it");
  assert.equal(await nsA.connect(a.ip, 8080), "timeout");
  const left = bodyAt(await p.api("GET", "/devices", undefined, a.token), 200).devices;
  assert.ok(!left.some((d) => d.id === laptop.device.id));
  const next = await register(a.token, { name: "new laptop" });
  assert.equal(next.device.address, laptop.device.address, "the lowest free address again");
});

test("the page: devices with their dots, a key pair made in the browser (the private key never sent), removal", async () => {
  const b = users[1]!;
  const browser = await launchChromium();
  try {
    const context = await browser.newContext();
    await context.setExtraHTTPHeaders({ authorization: `Bearer ${b.token}` });
    const page = await context.newPage();
    const sent: string[] = [];
    page.on("request", (r) => sent.push(`${r.url()} ${r.postData() ?? ""}`));
    // The host's interface was made again in the reboot test: the phone talks first, so it has a
    // fresh handshake with it, and the API has read it, before the page is looked at.
    assert.ok(await nsB.reaches(b.ip, 8080, 40_000));
    await p.until(async () => bodyAt(await p.api("GET", "/devices", undefined, b.token), 200).devices.find((d) => d.id === phone.device.id)?.online === true, 30_000, "phone online");
    await page.goto(`${p.url}/kws_devices`);
    const row = page.locator(`tr[data-device="${phone.device.id}"]`);
    assert.equal(await row.locator(".dot").getAttribute("class"), "dot on", "the phone had a handshake: online");

    await page.fill("#name", "browser key");
    await page.click("#generate");
    await page.waitForFunction(() => (document.getElementById("publicKey") as HTMLInputElement).value.length === 44);
    const publicKey = await page.inputValue("#publicKey");
    await page.click("[data-testid=device-register]");
    await page.waitForSelector("#browser-config:not([hidden])");
    const config = (await page.textContent("#browser-config-text")) ?? "";
    const privateKey = config.match(/^PrivateKey = (.+)$/m)?.[1] ?? "";
    assert.match(privateKey, /^[A-Za-z0-9+/]{43}=$/, "the config is complete with the browser's private key");
    // That private key belongs to the registered public key, and it never left the browser.
    const { createPrivateKey, createPublicKey } = await import("node:crypto");
    const der = Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), Buffer.from(privateKey, "base64")]);
    const derived = createPublicKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" })).export({ format: "jwk" }).x!;
    assert.equal(Buffer.from(derived, "base64url").toString("base64"), publicKey);
    assert.ok(!sent.some((s) => s.includes(privateKey)), "no request carried the private key");
    const devices = bodyAt(await p.api("GET", "/devices", undefined, b.token), 200).devices;
    const made = devices.find((d) => d.publicKey === publicKey);
    assert.ok(made, "registered with the browser's public key");

    await p.until(async () => bodyAt(await p.api("GET", "/devices", undefined, b.token), 200).devices.find((d) => d.id === made.id)?.state === "active", 30_000, "active");
    await page.goto(`${p.url}/kws_devices`);
    page.once("dialog", (d) => void d.accept());
    await page.click(`[data-testid="remove-${made.id}"]`);
    await p.until(async () => !bodyAt(await p.api("GET", "/devices", undefined, b.token), 200).devices.some((d) => d.id === made.id), 30_000, "removed");
    assert.ok(!peers().includes(publicKey));
    await context.close();
  } finally {
    await browser.close();
  }
});
