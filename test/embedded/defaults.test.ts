/**
 * `npm start` with nothing configured runs on its embedded defaults: PGlite in $KWS_DATA_DIR, the
 * in-process KV and queue, mail to the log. The rest of the suite runs on the real services; this
 * is the one end-to-end run of the defaults: a person signs up through the logged mail, signs in
 * and makes an API token; as an admin they register a host and queue a job for it; after a restart
 * on the same data directory the account, the token, the host and the open job are all still there.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fetchApi } from "../support/api";
import { accountThroughLog } from "../support/log-accounts";
import { embeddedKws, type Program } from "../support/processes";

const dir = mkdtempSync(join(tmpdir(), "kws-embedded-"));
let kws: Program | undefined;
after(async () => {
  await kws?.stop("SIGTERM").catch(() => kws!.stop("SIGKILL"));
  rmSync(dir, { recursive: true, force: true });
});

test("sign-up, sign-in, a token, a host and a queued job on the embedded defaults, kept across a restart", async () => {
  const adminEmail = `admin.${Date.now().toString(36)}@example.org`;
  let url: string;
  ({ kws, url } = await embeddedKws(join(dir, "data"), { KWS_ADMINS: adminEmail, KWS_LOCAL_AGENT: "off" }));
  kws.start();
  const ready = await kws.waitFor((l) => l.msg === "services ready", 120_000);
  assert.deepEqual(
    { database: ready.database, kv: ready.kv, mail: ready.mail, queue: ready.queue },
    { database: "pglite", kv: "memory", mail: "log", queue: "memory" },
    "nothing configured: every port on its embedded adapter",
  );
  await kws.waitFor((l) => l.msg === "listening", 120_000);

  const { cookie, token, username } = await accountThroughLog(kws, url, adminEmail);
  const me = await fetchApi(url, "GET", "/api/v1/me", { headers: { cookie } });
  assert.equal(me.status, 200);
  assert.equal(me.body.user.username, username, "the session (in the in-process KV) signs the person in");

  const host = await fetchApi(url, "POST", "/api/v1/hosts", { token, body: { name: "embedded" } });
  assert.equal(host.status, 201);
  const submitted = await fetchApi(url, "POST", `/api/v1/hosts/${host.body.host.id}/jobs`, { token, body: { kind: "host.facts", payload: {} } });
  assert.equal(submitted.status, 202);
  assert.equal(submitted.body.job.status, "queued", "no agent: the job waits in the in-process queue");

  await kws.stop("SIGTERM");
  const from = kws.lines.length;
  kws.start();
  await kws.waitFor((l) => l.msg === "listening", 120_000, from);
  const again = await fetchApi(url, "GET", "/api/v1/me", { token });
  assert.equal(again.status, 200, "the account and its token are in PGlite");
  assert.equal(again.body.user.username, username);
  const job = await fetchApi(url, "GET", `/api/v1/jobs/${submitted.body.job.id}`, { token });
  assert.equal(job.status, 200);
  assert.equal(job.body.job.status, "queued", "the open job survives the restart");
  const hosts = await fetchApi(url, "GET", "/api/v1/hosts", { token });
  assert.equal(hosts.status, 200);
  assert.deepEqual(hosts.body.hosts.map((h) => h.name), ["embedded"]);
});
