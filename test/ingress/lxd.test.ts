/**
 * A published app of a real container, the way `npm start` serves it: the pipeline (control plane
 * and agent processes, real LXD, the busybox image) deploys an instance running busybox httpd, and
 * the control plane's own router reaches it through the agent's stream (the agent opens the TCP
 * connection on its host). Killing the instance makes the URL 404.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { hostRequest } from "../support/ingress";
import { bodyAt } from "../support/api";
import { Pipeline } from "../support/pipeline";

let p: Pipeline;
let url: string;
let port: string;
let token: string;
let instanceName: string | undefined;
const name = `web-${Math.random().toString(36).slice(2, 7)}`;

before(async () => {
  p = await Pipeline.start({
    env: { KWS_BRIDGE_RANGE: "172.30.0.230-172.30.0.239", KWS_INSTANCE_IMAGE: "kws/busybox", KWS_INSTANCE_PROVISION: "false", KWS_INSTANCE_MEMORY_MB: "64" },
  });
  token = await p.userToken();
  instanceName = (await p.deploy(token, { username: "dev", password: "Busy-Box-123" })).name;
  // A web server in the container: fixed arguments, nothing of the test's input in a shell string.
  const started = await p.lxd.exec(instanceName, { command: ["/bin/sh", "-c", "mkdir -p /www && echo hello-from-the-container > /www/index.html && httpd -p 8080 -h /www"] });
  assert.equal(started.exitCode, 0);
  url = p.url;
  port = new URL(p.url).port;
});

after(async () => {
  if (instanceName) {
    const kill = await p.api("DELETE", "/instance", undefined, token).catch(() => undefined);
    if (kill?.status === 202) await p.waitFinal(kill.body.job.id, 60_000, token).catch(() => undefined);
  }
  await p?.close();
});

test("a server in the container answers at its app's URL with the access chosen; the kill makes the URL 404", async () => {
  const created = await p.api("POST", "/apps", { name, port: 8080, access: "public" }, token);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.app.url, `http://${name}.localhost:${port}/`);
  const host = `${name}.localhost:${port}`;

  const unknown = await hostRequest(url, `nothing-${name}.localhost:${port}`);
  assert.equal(unknown.status, 404, "npm start's server sends app hosts to its router");
  assert.match(unknown.body.toString(), /No instance, app or tunnel is published as/);

  const page = await hostRequest(url, host);
  assert.equal(page.status, 200, page.body.toString());
  assert.equal(page.body.toString(), "hello-from-the-container\n");

  assert.equal((await p.api("PATCH", `/apps/${name}`, { access: "owner" }, token)).status, 200);
  assert.equal((await hostRequest(url, host, { headers: { accept: "application/json" } })).status, 401, "owner only now");
  const owner = await hostRequest(url, host, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(owner.status, 200);

  assert.equal((await p.api("PATCH", `/apps/${name}`, { port: 8081 }, token)).status, 200);
  const nothing = await hostRequest(url, host, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(nothing.status, 502, "nothing listens on 8081");
  assert.match(nothing.body.toString(), /port <code>8081<\/code>/);

  const kill = await p.api("DELETE", "/instance", undefined, token);
  assert.equal(kill.status, 202);
  assert.equal((await p.waitFinal(kill.body.job.id, 60_000, token)).status, "succeeded");
  instanceName = undefined;
  const gone = await hostRequest(url, host, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(gone.status, 404, "the kill removed the app");
  assert.deepEqual(bodyAt(await p.api("GET", "/apps", undefined, token), 200).apps, []);
});
