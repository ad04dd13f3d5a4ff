/**
 * Signed events for a real instance: the whole pipeline (control plane with its webhook worker,
 * agent, LXD with the busybox image), a person's endpoint on a real HTTP receiver, and a deploy,
 * stop, start and kill. Each change arrives once, in the order it happened, signed (checked with
 * the `standardwebhooks` package), carrying the instance as GET /instance presents it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { bodyAt, type ApiMethod } from "../support/api";
import { Pipeline } from "../support/pipeline";
import { verified, WebhookReceiver } from "../support/webhook-receiver";

let p: Pipeline;
let token: string;
let receiver: WebhookReceiver;

before(async () => {
  p = await Pipeline.start({
    env: {
      // Addresses of this file's own: test files run two at a time on one LXD bridge.
      KWS_BRIDGE_RANGE: "172.30.0.95-172.30.0.99",
      KWS_INSTANCE_IMAGE: "kws/busybox",
      KWS_INSTANCE_PROVISION: "false",
      KWS_INSTANCE_MEMORY_MB: "64",
      KWS_HOST_MEMORY_RESERVE_MB: "0",
      KWS_WEBHOOK_ALLOW_PRIVATE: "true",
    },
  });
  token = await p.userToken();
  receiver = await WebhookReceiver.start();
});
after(async () => {
  const inst = await p?.api("GET", "/instance", undefined, token).catch(() => undefined);
  if (inst?.status === 200 && inst.body.state !== "none") {
    const kill = await p.api("DELETE", "/instance", undefined, token);
    if (kill.status === 202) await p.waitFinal(kill.body.job.id, 120_000, token).catch(() => undefined);
  }
  await receiver?.close();
  await p?.close();
});

const api = <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => p.api(method, path, body, token);

test("deploy, stop, start and kill of an instance arrive as signed events, in order, each with the instance as the API shows it", async () => {
  const { webhook, secret } = bodyAt(
    await api("POST", "/webhooks", { url: `${receiver.url}/events`, events: ["instance.deployed", "instance.stopped", "instance.started", "instance.deleted", "instance.failed"] }),
    201,
  );
  await p.deploy(token, { username: "ada", password: "Analytical-Engine-1843" });
  const deployed = bodyAt(await api("GET", "/instance"), 200);
  for (const path of ["/instance/stop", "/instance/start"] as const) {
    // The start and stop routes share one declaration, whose path the reply types cannot match.
    const { job } = bodyAt(await api("POST", path), 202) as { job: { id: string } };
    assert.equal((await p.waitFinal(job.id, 120_000, token)).status, "succeeded", path);
  }
  const running = bodyAt(await api("GET", "/instance"), 200);
  const kill = bodyAt(await api("DELETE", "/instance"), 202).job;
  assert.equal((await p.waitFinal(kill.id, 120_000, token)).status, "succeeded");

  const received = await receiver.waitFor(4, 30_000);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(receiver.received.length, 4, "each change once, nothing else");
  const events = received.map((r) => verified(secret, r));
  assert.deepEqual(events.map((e) => [e.type, e.data.state]), [
    ["instance.deployed", "running"],
    ["instance.stopped", "stopped"],
    ["instance.started", "running"],
    ["instance.deleted", "running"],
  ]);
  const ids = received.map((r) => r.headers["webhook-id"]);
  assert.equal(new Set(ids).size, 4);
  const times = events.map((e) => Date.parse(e.timestamp));
  assert.deepEqual([...times].sort((a, b) => a - b), times, "in the order of the changes");
  // What GET /instance answered after each change, but for the job (each event carries the job that made it).
  assert.deepEqual({ ...events[0]!.data, job: undefined }, { ...deployed, job: undefined });
  assert.deepEqual({ ...events[2]!.data, job: undefined }, { ...running, job: undefined });
  assert.equal(events[0]!.data.job.kind, "instance.deploy");
  assert.equal(events[3]!.data.job.id, kill.id);
  assert.equal(events[3]!.data.ip, deployed.ip);

  const log = bodyAt(await api("GET", `/webhooks/${webhook.id}/deliveries`), 200).attempts;
  assert.deepEqual(log.map((a) => [a.event, a.statusCode]).reverse(), events.map((e) => [e.type, 200]));
  assert.deepEqual(log.map((a) => a.webhookId).reverse(), ids);
});
