import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { bodyAt } from "../support/api";
import { Pipeline } from "../support/pipeline";
import { scrape, type Scrape } from "../support/prometheus";
import type { SignedInAccount } from "../support/log-accounts";

/**
 * /metrics of the real pipeline (control plane, gateway and an agent on LXD) after a deploy,
 * read by a Prometheus text-format parser: the deploy's job, its duration and the agent's own LXD timings.
 */
const TOKEN = `metrics-${Date.now().toString(36)}`;
let p: Pipeline;
let person: SignedInAccount;

before(async () => {
  p = await Pipeline.start({
    env: {
      KWS_METRICS_TOKEN: TOKEN,
      KWS_BRIDGE_RANGE: "172.30.0.140-172.30.0.144",
      KWS_INSTANCE_IMAGE: "kws/busybox",
      KWS_INSTANCE_PROVISION: "false",
      KWS_INSTANCE_MEMORY_MB: "64",
      KWS_HOST_MEMORY_RESERVE_MB: "256",
    },
  });
  await p.until(async () => (await p.hostRow()).facts !== null, 20_000, "facts");
  person = await p.account();
});
after(async () => {
  const kill = await p?.api("DELETE", "/instance", undefined, person?.token).catch(() => undefined);
  if (kill?.status === 202) await p.waitFinal(kill.body.job.id, 120_000, person.token).catch(() => undefined);
  await p?.close();
});

async function scraped(): Promise<Scrape> {
  const res = await scrape(p.url, TOKEN);
  assert.equal(res.status, 200);
  return res.scrape!;
}

test("without the token, or with another, /metrics answers 401", async () => {
  assert.equal((await scrape(p.url)).status, 401);
  assert.equal((await scrape(p.url, "wrong")).status, 401);
  assert.equal((await scrape(p.url, p.token)).status, 401, "an API token is not the metrics token");
});

test("after a deploy: its job by kind and outcome, its duration histogram, the agent's LXD timings, the request that started it", async () => {
  const host = p.host.name;
  const before = await scraped();
  const deploysBefore = before.families.has("kws_jobs_finished_total") ? before.value("kws_jobs_finished_total", { kind: "instance.deploy" }) : 0;
  assert.equal(deploysBefore, 0);

  const started = Date.now();
  const res = await p.api("POST", "/instance", { username: "ada", password: "Metrics-Pass-123" }, person.token);
  const job = await p.waitFinal(bodyAt(res, 202).job.id, 120_000, person.token);
  assert.equal(job.status, "succeeded", JSON.stringify(job.error));
  const tookSeconds = (Date.now() - started) / 1000;

  // The agent reports its timings just after the job's result; wait for them to arrive.
  let after!: Scrape;
  await p.until(async () => {
    after = await scraped();
    return after.families.has("kws_agent_lxd_operation_seconds") && after.histogram("kws_agent_lxd_operation_seconds", { host, operation: "PUT /1.0/instances/:name/state" }).count > 0;
  }, 30_000, "the agent's LXD timings").catch((err: Error) => {
    throw new Error(`${err.message}; the agent's lines: ${after?.text.split("\n").filter((l) => /^kws_(agent|gateway_messages)/.test(l)).join("\n")}\ncontrol plane: ${p.controlPlane.lines.filter((l) => /agent|malformed/.test(String(l.msg))).map((l) => JSON.stringify(l)).slice(-8).join("\n")}`);
  });

  assert.equal(after.family("kws_jobs_finished_total").type, "COUNTER");
  assert.equal(after.value("kws_jobs_finished_total", { kind: "instance.deploy", outcome: "succeeded" }), 1);
  assert.equal(after.value("kws_jobs_finished_total", { kind: "instance.deploy", outcome: "failed" }), 0);

  assert.equal(after.family("kws_job_duration_seconds").type, "HISTOGRAM");
  const duration = after.histogram("kws_job_duration_seconds", { kind: "instance.deploy", outcome: "succeeded" });
  assert.equal(duration.count, 1);
  assert.ok(duration.sum > 0 && duration.sum <= tookSeconds + 1, `deploy took ${duration.sum} s (the test saw ${tookSeconds} s)`);
  assert.equal(duration.buckets["+Inf"], 1);
  const smallest = Object.entries(duration.buckets).find(([, n]) => n === 1)![0];
  assert.ok(smallest === "+Inf" || Number(smallest) >= duration.sum, `the first bucket holding it (le=${smallest}) is at least its duration`);

  // The agent's own figures, labelled with its host: the container was created and started through LXD.
  const create = after.histogram("kws_agent_lxd_operation_seconds", { host, operation: "POST /1.0/instances" });
  assert.ok(create.count >= 1, "the container's creation was timed");
  assert.ok(create.sum > 0);
  const start = after.histogram("kws_agent_lxd_operation_seconds", { host, operation: "PUT /1.0/instances/:name/state" });
  assert.ok(start.count >= 1 && start.sum > 0, "its start was timed");
  assert.ok(after.value("kws_agent_instances", { host, state: "Running" }) >= 1, "the running container is counted on its host");

  // The request that started it, by route pattern; the gateway's messages; the host online.
  assert.ok(after.value("kws_http_requests_total", { method: "POST", route: "/api/v1/instance", status: "202" }) >= 1);
  assert.ok(after.histogram("kws_http_request_duration_seconds", { method: "GET", route: "/api/v1/jobs/:id", status: "200" }).count >= 1, "ids are not in the route label");
  assert.ok(after.value("kws_gateway_messages_total", { direction: "out", type: "command" }) >= 1);
  assert.ok(after.value("kws_gateway_messages_total", { direction: "in", type: "result" }) >= 1);
  assert.ok(after.value("kws_gateway_messages_total", { direction: "in", type: "metrics" }) >= 1);
  assert.equal(after.value("kws_hosts", { state: "online" }), 1);
  assert.equal(after.value("kws_gateway_agent_connections", { state: "established" }), 1);
});
