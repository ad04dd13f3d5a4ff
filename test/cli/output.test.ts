/** What `kws` prints: a live step display on a terminal, plain lines through a pipe, one JSON document with --json. */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { Output } from "../../cli/output";

function capture(tty: boolean) {
  const stdout = Object.assign(new PassThrough(), { isTTY: tty });
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  return { io: { stdout, stderr }, text: () => out, errors: () => err };
}

test("on a terminal each step spins on one line and is ticked off when the next comes", () => {
  const c = capture(true);
  const progress = new Output(false, c.io).progress();
  progress.step("creating the container");
  progress.step("starting it");
  progress.end(true);
  const screen = c.text();
  assert.match(screen, /\r\x1b\[2K⠋ creating the container \(0s\)/);
  assert.match(screen, /\r\x1b\[2K✓ creating the container\n/);
  assert.match(screen, /\r\x1b\[2K✓ starting it\n$/);
});

test("through a pipe, steps are plain lines; with --json nothing but the result reaches stdout", () => {
  const piped = capture(false);
  const plain = new Output(false, piped.io);
  const progress = plain.progress();
  progress.step("creating the container");
  progress.end(false, "no room");
  plain.result({ state: "failed" }, (v) => `state: ${v.state}`);
  assert.equal(piped.text(), "creating the container\nfailed: no room\nstate: failed\n");

  const json = capture(true);
  const out = new Output(true, json.io);
  out.progress().step("creating the container");
  out.say("a note for the person");
  out.result({ state: "running" }, () => "not this");
  assert.deepEqual(JSON.parse(json.text()), { state: "running" });
  assert.equal(json.errors(), "a note for the person\n");
});
