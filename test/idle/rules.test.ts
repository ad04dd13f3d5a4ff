/**
 * Idle auto-stop on a real database and RabbitMQ, without containers: the operator's settings,
 * a person's choice through the API, what agents' reports and ingress requests record, and the
 * background checker, which stops (through the normal stop job) exactly the instances past their
 * idle time that their agent has looked at since, once even with two checkers at once.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq } from "drizzle-orm";
import { IdleChecker } from "../../functions/idle/checker";
import { IngressActivity } from "../../functions/idle/ingress-activity";
import { recordActivity } from "../../functions/idle/queries";
import { parseConfig } from "../../shared/config";
import { instanceActivity, instances, jobs, type Instance } from "../../shared/db/schema";
import { bodyAt } from "../support/api";
import { signedInUser, startHarness, type Harness } from "../support/harness";
import { seedInstance } from "../support/ingress";

let h: Harness;
const MINUTE = 60_000;

before(async () => {
  h = await startHarness({ env: { KWS_IDLE_STOP_MINUTES: "60", KWS_IDLE_STOP_MAX_MINUTES: "120" } });
});
after(async () => {
  await h?.close();
});

/** A signed-in person with a running instance that became running two hours ago. */
async function personWithInstance() {
  const { cookie, userId } = await signedInUser(h);
  const instance = await seedInstance(h.services.db, userId);
  await h.services.db.update(instances).set({ updatedAt: new Date(Date.now() - 120 * MINUTE) }).where(eq(instances.id, instance.id));
  const api = (method: "GET" | "PATCH", body?: unknown) => h.api(method, "/api/v1/instance", { headers: { cookie }, ...(body ? { body } : {}) });
  return { userId, instance, api };
}

const ago = (minutes: number) => new Date(Date.now() - minutes * MINUTE);

async function setActivity(instance: Instance, values: Partial<typeof instanceActivity.$inferInsert>) {
  await h.services.db
    .insert(instanceActivity)
    .values({ instanceId: instance.id, ...values })
    .onConflictDoUpdate({ target: instanceActivity.instanceId, set: { ideAt: null, sshAt: null, streamsAt: null, ingressAt: null, ...values } });
}

async function latestJob(instance: Instance) {
  const [row] = await h.services.db.select({ jobId: instances.jobId }).from(instances).where(eq(instances.id, instance.id));
  if (!row?.jobId) return undefined;
  return (await h.services.db.select().from(jobs).where(eq(jobs.id, row.jobId)))[0];
}

test("operator settings: minutes (fractions too) or never, a maximum no shorter than the default", () => {
  assert.deepEqual(parseConfig({}).idleStop, { defaultMinutes: 60, maxMinutes: 60 });
  assert.deepEqual(parseConfig({ KWS_IDLE_STOP_MINUTES: "0.5", KWS_IDLE_STOP_MAX_MINUTES: "never" }).idleStop, { defaultMinutes: 0.5, maxMinutes: null });
  assert.deepEqual(parseConfig({ KWS_IDLE_STOP_MINUTES: "never" }).idleStop, { defaultMinutes: null, maxMinutes: null });
  for (const bad of ["0", "-5", "soon", ""]) assert.throws(() => parseConfig({ KWS_IDLE_STOP_MINUTES: bad }), /KWS_IDLE_STOP_MINUTES/, bad);
  assert.throws(() => parseConfig({ KWS_IDLE_STOP_MINUTES: "60", KWS_IDLE_STOP_MAX_MINUTES: "30" }), /KWS_IDLE_STOP_MAX_MINUTES: must not be below/);
  assert.throws(() => parseConfig({ KWS_IDLE_STOP_MINUTES: "never", KWS_IDLE_STOP_MAX_MINUTES: "120" }), /KWS_IDLE_STOP_MAX_MINUTES/);
});

test("a person chooses a shorter or longer time up to the operator's maximum, never only where allowed, or the default", async () => {
  const none = await signedInUser(h);
  const noInstance = await h.api("PATCH", "/api/v1/instance", { headers: { cookie: none.cookie }, body: { idleStop: 30 } });
  assert.equal(noInstance.status, 404);

  const { api } = await personWithInstance();
  const shown = bodyAt(await api("GET"), 200).idle;
  assert.equal(shown?.setting, "default");
  assert.equal(shown?.minutes, 60);

  for (const [idleStop, rule] of [
    [121, /at most 120 minutes/],
    ["never", /at most 120 minutes/],
    [0, /whole number of minutes/],
    [1.5, /whole number of minutes/],
    ["soon", /whole number of minutes/],
  ] as const) {
    const res = await api("PATCH", { idleStop });
    assert.equal(res.status, 400, String(idleStop));
    assert.equal(res.body.error.issues?.[0]?.path, "idleStop", JSON.stringify(res.body));
    assert.match(res.body.error.issues?.[0]?.message ?? "", rule);
  }
  const chosen = bodyAt(await api("PATCH", { idleStop: 90 }), 200).idle;
  assert.equal(chosen?.setting, 90);
  assert.equal(chosen?.minutes, 90);
  const back = bodyAt(await api("PATCH", { idleStop: "default" }), 200).idle;
  assert.equal(back?.setting, "default");
  assert.equal(back?.minutes, 60);
});

test("agent reports become times on the database's clock, for the reporting host's instances only", async () => {
  const ada = await personWithInstance();
  const bob = await personWithInstance();
  await recordActivity(h.services.db, ada.instance.hostId, [
    { name: ada.instance.name, ideIdleMs: 5 * MINUTE, sshSessions: 2, streamsOpen: 1, streamsIdleMs: 0 },
    // Another host's instance: a host reports only its own.
    { name: bob.instance.name, ideIdleMs: 0, sshSessions: 1, streamsOpen: 1, streamsIdleMs: 0 },
  ]);
  const idle = bodyAt(await ada.api("GET"), 200).idle!;
  const age = (iso: string | null) => Date.now() - new Date(iso!).getTime();
  assert.ok(Math.abs(age(idle.last.ide) - 5 * MINUTE) < 10_000, `code-server beat 5 minutes ago (${idle.last.ide})`);
  assert.ok(age(idle.last.ssh) < 10_000 && age(idle.last.streams) < 10_000, "open sessions and streams count as now");
  assert.deepEqual(idle.open, { ssh: 2, streams: 1 });
  assert.deepEqual(idle.awakeBecause, ["ide", "ssh", "streams"]);
  assert.equal(bodyAt(await bob.api("GET"), 200).idle?.reportedAt, null, "nothing recorded for another host's instance");

  // A later report with everything closed keeps the last times and the new counts.
  await recordActivity(h.services.db, ada.instance.hostId, [{ name: ada.instance.name, ideIdleMs: null, sshSessions: 0, streamsOpen: 0, streamsIdleMs: 3000 }]);
  const later = bodyAt(await ada.api("GET"), 200).idle!;
  assert.equal(later.last.ssh, idle.last.ssh);
  assert.equal(later.last.ide, idle.last.ide);
  assert.deepEqual(later.open, { ssh: 0, streams: 0 });

  const ingress = new IngressActivity({ db: h.services.db, logger: h.mailbox.logger });
  ingress.touch(bob.instance.id);
  await ingress.flush();
  const bobs = bodyAt(await bob.api("GET"), 200).idle!;
  assert.ok(age(bobs.last.ingress) < 10_000, "a request through the ingress");
  assert.deepEqual(bobs.awakeBecause, ["ingress"]);
});

test("the checker stops an idle instance through the stop job, not one with recent activity nor one its agent has not looked at since", async () => {
  const idle = await personWithInstance();
  const ssh = await personWithInstance();
  const unreported = await personWithInstance();
  await setActivity(idle.instance, { ideAt: ago(90), sshAt: ago(70), reportedAt: ago(0) });
  await setActivity(ssh.instance, { sshAt: ago(10), reportedAt: ago(0) });
  // Idle for 2 h by its last report, but that report is 3 h old: nothing says it is idle now.
  await setActivity(unreported.instance, { reportedAt: ago(180) });

  const shown = bodyAt(await ssh.api("GET"), 200).idle!;
  assert.deepEqual(shown.awakeBecause, ["ssh"], "the API says what keeps it awake");
  assert.ok(Math.abs(new Date(shown.stopsAt!).getTime() - (Date.now() + 50 * MINUTE)) < 10_000, `it stops 60 minutes after the SSH session (${shown.stopsAt})`);

  const checkers = [0, 1].map(() => new IdleChecker({ services: h.services, logger: h.mailbox.logger }));
  await Promise.all(checkers.map((c) => c.pass()));
  const stop = await latestJob(idle.instance);
  assert.equal(stop?.kind, "instance.stop");
  assert.equal(stop?.status, "queued");
  const stopJobs = await h.services.db.select().from(jobs).where(eq(jobs.kind, "instance.stop"));
  assert.equal(stopJobs.filter((j) => j.userId === idle.userId).length, 1, "two checkers at once queue one stop");
  assert.equal(await latestJob(ssh.instance), undefined, "an SSH session 10 minutes ago keeps it awake");
  assert.equal(await latestJob(unreported.instance), undefined, "no report since its time ran out: not stopped");

  // A person's shorter choice applies at once.
  bodyAt(await ssh.api("PATCH", { idleStop: 5 }), 200);
  await checkers[0]!.pass();
  assert.equal((await latestJob(ssh.instance))?.kind, "instance.stop");
});
