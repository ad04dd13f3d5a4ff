import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { resultOf } from "../support/api";
import { Pipeline } from "../support/pipeline";
import { freePort, Program } from "../support/processes";

/** The gateway as a process of its own (`npm run gateway`) beside the control plane. */
let p: Pipeline;
let gateway: Program;
before(async () => {
  p = await Pipeline.start();
  const port = await freePort();
  gateway = new Program("gateway", "functions/gateway/main.ts", [], { ...p.controlPlane.env, PORT: String(port) });
  gateway.start();
  await gateway.waitFor((l) => l.msg === "gateway listening");
  await p.moveAgentTo(`http://127.0.0.1:${port}`);
});
after(async () => {
  await p?.close();
  await gateway?.stop();
});

test("an agent on a separate gateway process gets the jobs submitted to the control plane", async () => {
  await p.waitHostOnline();
  const health = (await (await fetch(`http://127.0.0.1:${gateway.env.PORT}/healthz`)).json()) as { hosts: number };
  assert.equal(health.hosts, 1, "the separate gateway holds the host");
  const job = await p.waitFinal((await p.submit("noop", {})).id);
  assert.equal(job.status, "succeeded");
  const facts = await p.waitFinal((await p.submit("host.facts", {})).id);
  assert.equal(facts.status, "succeeded");
  assert.ok(resultOf(facts, "host.facts").cpus >= 1);
});

test("without DATABASE_URL and AMQP_URL the separate gateway refuses to start, naming them", async () => {
  const lonely = new Program("lonely-gateway", "functions/gateway/main.ts", [], { DATABASE_URL: "", AMQP_URL: "", PORT: String(await freePort()) });
  lonely.start();
  await assert.rejects(lonely.waitFor(() => false, 20_000), /exited/);
  const text = lonely.text.join("\n");
  assert.match(text, /DATABASE_URL: a separate gateway needs the shared PostgreSQL/);
  assert.match(text, /AMQP_URL: a separate gateway needs the shared RabbitMQ/);
  assert.equal(lonely.exited?.code, 1);
});
