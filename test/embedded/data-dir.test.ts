/**
 * `npm start`'s embedded state ($KWS_DATA_DIR: PGlite's database, the secret key) is readable by
 * its user only: the directory is 0700 and nothing under it has group or other bits, whether the
 * start made it or found it open (0755 with 0644 files, as earlier versions left it), and it stays
 * so while the control plane writes.
 */
import assert from "node:assert/strict";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { embeddedKws, type Program } from "../support/processes";

const root = mkdtempSync(join(tmpdir(), "kws-data-dir-"));
const programs: Program[] = [];
after(async () => {
  for (const p of programs) await p.stop("SIGTERM").catch(() => p.stop("SIGKILL"));
  rmSync(root, { recursive: true, force: true });
});

/** Every path under `dir` (not following links) whose mode lets group or others in. */
function openToOthers(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return [];
    return [...(stat.mode & 0o077 ? [`${(stat.mode & 0o777).toString(8)} ${path}`] : []), ...(stat.isDirectory() ? openToOthers(path) : [])];
  });
}

async function start(dataDir: string): Promise<{ kws: Program; url: string }> {
  const { kws, url } = await embeddedKws(dataDir, { KWS_SECRET_KEY: "", KWS_LOCAL_AGENT: "off" });
  programs.push(kws);
  kws.start();
  await kws.waitFor((l) => l.msg === "listening", 120_000);
  return { kws, url };
}

/** A sign-up: rows and WAL written by the running control plane. */
async function signUp(url: string) {
  const n = Date.now().toString(36);
  const res = await fetch(`${url}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: `dd.${n}@example.org`, username: `dd_${n}`, password: "Correct-Horse-9", firstName: "Ada", lastName: "Lovelace" }),
  });
  assert.equal(res.status, 201, await res.text());
}

function assertPrivate(dataDir: string, when: string) {
  assert.equal(statSync(dataDir).mode & 0o777, 0o700, `${when}: the directory's mode`);
  assert.deepEqual(openToOthers(dataDir), [], `${when}: paths open to group or others`);
}

test("a data directory made by the start is 0700, and nothing under it is open to others, also after writes and a stop", async () => {
  const dataDir = join(root, "fresh", "kws");
  const { kws, url } = await start(dataDir);
  assertPrivate(dataDir, "after the start");
  assert.ok(readdirSync(join(dataDir, "pglite")).length > 0, "PGlite's files are there");
  await signUp(url);
  assertPrivate(dataDir, "after a sign-up");
  await kws.stop("SIGTERM");
  assertPrivate(dataDir, "after the stop");
});

test("an existing 0755 directory with 0644 files, as earlier versions left it, is tightened at the start", async () => {
  const dataDir = join(root, "old");
  mkdirSync(join(dataDir, "pglite"), { recursive: true });
  writeFileSync(join(dataDir, "secret.key"), `${Buffer.alloc(32, 1).toString("base64")}\n`);
  writeFileSync(join(dataDir, "notes"), "state\n");
  chmodSync(dataDir, 0o755);
  chmodSync(join(dataDir, "pglite"), 0o777);
  chmodSync(join(dataDir, "secret.key"), 0o644);
  chmodSync(join(dataDir, "notes"), 0o666);
  const { kws, url } = await start(dataDir);
  assertPrivate(dataDir, "after the start");
  assert.ok(kws.lines.some((l) => l.level === "warn" && /data directory was open to other users/.test(l.msg)), "the start says what it tightened");
  await signUp(url);
  assertPrivate(dataDir, "after a sign-up");
});
