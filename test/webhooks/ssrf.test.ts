/**
 * Webhook destinations without KWS_WEBHOOK_ALLOW_PRIVATE: loopback, private, link-local (cloud
 * metadata) addresses and names resolving to them are refused at registration, and again at every
 * attempt against the address the connection would go to, so a name that resolved to a public
 * address at registration and to loopback later (DNS rebinding) reaches nothing. Names resolve
 * through a real test DNS server (KWS_DNS_SERVERS).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { webhookEndpoints } from "../../shared/db/schema";
import { forbiddenAddress } from "../../functions/webhooks/destination";
import { WebhookWorker } from "../../functions/webhooks/worker";
import { bodyAt, type ApiMethod } from "../support/api";
import { TestDns } from "../support/dns-server";
import { signedInUser, startHarness, type Harness } from "../support/harness";
import { WebhookReceiver } from "../support/webhook-receiver";

let h: Harness;
let dns: TestDns;
let worker: WebhookWorker;
let v4: WebhookReceiver;
let v6: WebhookReceiver;

before(async () => {
  dns = await TestDns.start();
  h = await startHarness({ env: { KWS_DNS_SERVERS: dns.server } });
  worker = new WebhookWorker({ services: h.services, logger: h.mailbox.logger, pollMs: 200 });
  await worker.start();
  v4 = await WebhookReceiver.start("127.0.0.1");
  v6 = await WebhookReceiver.start("::1");
  dns.a.set("loop.wo.test", "127.0.0.1");
  dns.a.set("public.wo.test", "93.184.216.34");
});
after(async () => {
  await worker?.stop();
  await v4?.close();
  await v6?.close();
  await h?.close();
  await dns?.close();
});

async function person() {
  const { cookie } = await signedInUser(h);
  return <M extends ApiMethod, P extends string>(method: M, path: P, body?: unknown) => h.api(method, `/api/v1${path}`, { body, headers: { cookie } });
}

/** The destinations the issue names, each reaching a receiver of this test where it could. */
const destinations = () => [
  `http://127.0.0.1:${v4.port}/hook`,
  "http://10.1.2.3/hook",
  "http://169.254.169.254/latest/meta-data",
  `http://[::1]:${v6.port}/hook`,
  `http://loop.wo.test:${v4.port}/hook`,
  `http://[::ffff:127.0.0.1]:${v4.port}/hook`,
  "http://100.64.0.1/hook",
  "http://[fd00::1]/hook",
];

test("the address rules: loopback, private, CGNAT, ULA, link-local, unspecified, multicast and their IPv4-mapped forms are refused", () => {
  for (const a of ["127.0.0.1", "127.9.9.9", "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "169.254.169.254", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fc00::1", "fd12::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:a9fe:a9fe"]) {
    assert.ok(forbiddenAddress(a), `${a} refused`);
  }
  for (const a of ["93.184.216.34", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]) assert.equal(forbiddenAddress(a), undefined, `${a} allowed`);
});

test("registering an endpoint at a loopback, private or metadata address, or a name resolving to one, is a 400 naming url", async () => {
  const call = await person();
  for (const url of destinations()) {
    const res = await call("POST", "/webhooks", { url, events: ["job.failed"] });
    assert.equal(res.status, 400, `${url}: ${JSON.stringify(res.body)}`);
    const error = bodyAt(res, 400).error;
    assert.equal(error.issues?.[0]?.path, "url");
    assert.match(error.message, /must reach a public address: .*(loopback, private, link-local or reserved)/, url);
  }
  const unknown = await call("POST", "/webhooks", { url: "http://nowhere.wo.test/hook", events: ["job.failed"] });
  assert.match(bodyAt(unknown, 400).error.message, /does not resolve/);
  bodyAt(await call("POST", "/webhooks", { url: "https://public.wo.test/hook", events: ["job.failed"] }), 201);
});

test("at delivery: each forbidden destination is refused at connect time, nothing reaches the receivers", async () => {
  const call = await person();
  for (const url of destinations()) {
    const { webhook } = bodyAt(await call("POST", "/webhooks", { url: "https://public.wo.test/hook", events: ["job.failed"] }), 201);
    // As if it had been registered while private destinations were allowed.
    await h.services.db.update(webhookEndpoints).set({ url }).where(eq(webhookEndpoints.id, webhook.id));
    bodyAt(await call("POST", `/webhooks/${webhook.id}/test`), 202);
    let log = bodyAt(await call("GET", `/webhooks/${webhook.id}/deliveries`), 200).attempts;
    for (let i = 0; i < 50 && log.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      log = bodyAt(await call("GET", `/webhooks/${webhook.id}/deliveries`), 200).attempts;
    }
    assert.equal(log.length, 1, url);
    assert.equal(log[0]!.statusCode, null);
    assert.match(log[0]!.error ?? "", /^refused: .*loopback, private, link-local or reserved/, url);
    await call("DELETE", `/webhooks/${webhook.id}`);
  }
  assert.deepEqual([v4.received.length, v6.received.length], [0, 0]);
});

test("DNS rebinding: a name that was public at registration and points at loopback now is refused when connecting", async () => {
  const call = await person();
  dns.a.set("rebind.wo.test", "93.184.216.34");
  const { webhook } = bodyAt(await call("POST", "/webhooks", { url: `http://rebind.wo.test:${v4.port}/hook`, events: ["job.failed"] }), 201);
  dns.a.set("rebind.wo.test", "127.0.0.1");
  bodyAt(await call("POST", `/webhooks/${webhook.id}/test`), 202);
  let log = bodyAt(await call("GET", `/webhooks/${webhook.id}/deliveries`), 200).attempts;
  for (let i = 0; i < 50 && log.length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    log = bodyAt(await call("GET", `/webhooks/${webhook.id}/deliveries`), 200).attempts;
  }
  assert.match(log[0]?.error ?? "", /^refused: rebind\.wo\.test resolves to 127\.0\.0\.1: 127\.0\.0\.1 is a loopback/);
  assert.equal(v4.received.length, 0);
});
