/**
 * The /kws_webhooks page through its forms (cookies and CSRF as a browser sends them): adding an
 * endpoint shows its secret once, the test button sends a signed event the log then shows, a bad
 * URL is shown at its field, and removing works.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Browser } from "../support/form-browser";
import { signedInUser, type Harness } from "../support/harness";
import { startWebhookHarness, verified, type WebhookReceiver } from "../support/webhook-receiver";

let h: Harness;
let receiver: WebhookReceiver;
let close: () => Promise<void>;

before(async () => {
  ({ h, receiver, close } = await startWebhookHarness({}));
});
after(() => close?.());

test("add an endpoint (its secret shown once), send a test event, see it in the log, remove it", async () => {
  const b = new Browser(h, (await signedInUser(h)).cookie);
  assert.match((await b.get("/kws_webhooks")).html, /data-testid="no-webhooks"/);
  const bad = await b.post("/kws_webhooks", "/kws_webhooks", { url: "ftp://x", events: "job.failed", description: "-" });
  assert.equal(bad.status, 400);
  assert.match(bad.html, /data-field-error="url"/);

  const added = await b.post("/kws_webhooks", "/kws_webhooks", { url: `${receiver.url}/page`, events: "job.failed instance.deployed", description: "CI" });
  assert.equal(added.status, 200);
  const secret = added.html.match(/value="(whsec_[^"]+)"/)?.[1];
  assert.ok(secret, "the secret is shown");
  const page = await b.get("/kws_webhooks");
  assert.ok(!page.html.includes(secret!), "only once");
  const id = page.html.match(/data-webhook="([0-9a-f-]{36})"/)?.[1]!;
  assert.match(page.html, /job\.failed, instance\.deployed/);

  const sent = await b.post("/kws_webhooks", "/kws_webhooks/test", { id });
  assert.equal(sent.status, 303);
  const [r] = await receiver.waitFor(1, 10_000, "/page");
  assert.equal(verified(secret!, r!).type, "webhook.test");
  let log = "";
  for (let i = 0; i < 50 && !/data-attempt=/.test(log); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    log = (await b.get("/kws_webhooks")).html;
  }
  assert.match(log, /<td>webhook\.test<\/td><td>1<\/td><td data-cell="answer">200<\/td>/);

  assert.equal((await b.post("/kws_webhooks", "/kws_webhooks/remove", { id })).status, 303);
  assert.match((await b.get("/kws_webhooks")).html, /data-testid="no-webhooks"/);
});
