/**
 * The /kws_hooks page on a real database: adding a hook shows its URL and secret once, a bad field
 * is shown at the field, removing takes it off; the dashboard links the page.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Browser } from "../support/form-browser";
import { signedInUser, startHarness, type Harness } from "../support/harness";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h?.close());

test("/kws_hooks adds a hook showing its secret once, refuses a bad field, lists and removes it", async () => {
  const { cookie } = await signedInUser(h);
  const browser = new Browser(h, cookie);
  assert.match((await browser.get("/")).html, /href="\/kws_hooks"/, "the dashboard links the page");
  assert.match((await browser.get("/kws_hooks")).html, /data-testid="no-hooks"/);

  const bad = await browser.post("/kws_hooks", "/kws_hooks", { name: "site", provider: "github", command: " " });
  assert.equal(bad.status, 400);
  assert.match(bad.html, /data-field-error="command"/);

  const added = await browser.post("/kws_hooks", "/kws_hooks", { name: "site", provider: "gitlab", command: "cd app && git pull" });
  assert.equal(added.status, 200);
  const secret = added.html.match(/value="([0-9a-f]{64})" data-select="true" data-testid="hook-secret"/)?.[1];
  assert.ok(secret, "the secret is on the page once");
  const id = added.html.match(/http:\/\/kws\.test\/hooks\/v1\/([0-9a-f-]{36})/)?.[1];
  assert.ok(id, "the hook's URL is on the page");

  const page = (await browser.get("/kws_hooks")).html;
  assert.ok(page.includes(`data-hook="${id}"`));
  assert.ok(page.includes("cd app &amp;&amp; git pull"));
  assert.ok(!page.includes(secret), "the secret is not shown again");
  assert.match(page, /No runs yet/);

  assert.equal((await browser.post("/kws_hooks", "/kws_hooks/remove", { id })).status, 303);
  assert.match((await browser.get("/kws_hooks")).html, /data-testid="no-hooks"/);
});
