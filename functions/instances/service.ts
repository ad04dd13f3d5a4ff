import { randomUUID } from "node:crypto";
import { lockUser } from "../core/locks";
import { audit, type Person } from "../audit/record";
import { quotasOf } from "../quotas/limits";
import type { Host, Instance, InstanceActivity, Job } from "../../shared/db/schema";
import { AppError } from "../core/errors";
import { instanceAddressHolder } from "./outcome";
import { instanceNameFor } from "../../shared/instances/rules";
import { sealValue } from "../core/jobs/sealed";
import { getJob, insertJob, refuseWhileOpen } from "../core/jobs/store";
import { getHost } from "../hosts/store";
import { publishJob } from "../core/jobs/submit";
import type { CommandKind } from "../../shared/protocol/commands";
import type { Database } from "../../shared/db";
import { allocateOrRefuse } from "../addresses";
import { queueAndBox } from "../configured";
import type { Services } from "../services";
import { queueOwnerChange } from "../devices/owner";
import { homeHostFor } from "../hosts/home-host";
import { placementRules } from "../hosts/placement";
import { lockNames, newInstanceLabel } from "../ingress/names";
import { activityOf } from "../idle/queries";
import { accountName, insertInstance, instanceOfUser, updateInstance } from "./queries";

/** code-server's port in every instance. */
export const IDE_PORT = 8099;
const STOP_TIMEOUT_SECONDS = 30;

const ready = (s: Services) => queueAndBox(s, "instances");

const passwordContext = (instance: Pick<Instance, "name">) => `instance:${instance.name}:password`;

async function newJob(
  tx: Database,
  s: Services,
  o: { id?: string; hostId: string; userId: string; kind: CommandKind; payload: Record<string, unknown> },
): Promise<Job> {
  return insertJob(tx, {
    id: o.id,
    hostId: o.hostId,
    userId: o.userId,
    kind: o.kind,
    payload: o.payload,
    deadline: new Date(Date.now() + s.config.jobDeadlineSeconds * 1000),
  });
}

/**
 * Deploy: the instance row, its address and its job in one transaction, then the message. A
 * user's failed instance is deployed again in place (same name and address); any other existing
 * instance is a 409.
 */
export async function deployInstance(s: Services, who: Person, body: { username: string; password: string }): Promise<Job> {
  const { userId } = who;
  const { queue, box } = ready(s);
  const jobId = randomUUID();
  const job = await s.db.transaction(async (tx) => {
    await lockUser(tx, userId);
    let instance = await instanceOfUser(tx, userId, true);
    if (instance) {
      await refuseWhileOpen(tx, instance.jobId, "your instance");
      if (instance.state !== "failed") throw new AppError("conflict", "you already have an instance; kill it before deploying a new one");
    }
    // The instance's size is the person's quota, read under their lock with the placement that must fit it.
    const quotas = await quotasOf(tx, s.config, userId);
    const host = instance ? await getHost(tx, instance.hostId) : await homeHostFor(tx, userId, placementRules(s.config, quotas.instanceMemoryMB), true);
    if (!host) throw new AppError("no_capacity", "your instance's host is gone; kill the instance and deploy again");
    const id = instance?.id ?? randomUUID();
    const name = instanceNameFor(userId);
    const ipv4 = await allocateOrRefuse(
      tx,
      { hostId: host.id, pool: "bridge", range: s.config.instances.bridgeRange, holder: instanceAddressHolder({ id }) },
      {
        exhausted: `host ${host.name} has no free address for another instance`,
        heldElsewhere: "this instance still holds an address on another host; kill it first",
      },
    );
    let label = instance?.label;
    if (!label) {
      await lockNames(tx);
      label = await newInstanceLabel(tx, await accountName(tx, userId));
    }
    const passwordEncrypted = await box.seal(body.password, passwordContext({ name }));
    const row = await newJob(tx, s, {
      id: jobId,
      hostId: host.id,
      userId,
      kind: "instance.deploy",
      payload: {
        name,
        image: s.config.instances.image,
        ipv4Address: ipv4,
        memoryMB: quotas.instanceMemoryMB,
        cpus: quotas.instanceCpus,
        diskGB: quotas.instanceDiskGB,
        processes: s.config.instances.processes,
        username: body.username,
        password: await sealValue(box, jobId, "password", body.password),
        idePort: IDE_PORT,
        provision: s.config.instances.provision,
      },
    });
    const values = {
      username: body.username,
      passwordEncrypted,
      ipv4,
      image: s.config.instances.image,
      memoryMB: quotas.instanceMemoryMB,
      cpus: quotas.instanceCpus,
      state: "provisioning" as const,
      jobId: row.id,
    };
    if (instance) await updateInstance(tx, instance.id, values);
    else instance = await insertInstance(tx, { id, userId, hostId: host.id, name, label, ...values });
    await audit(tx, who, {
      action: "instance.deploy",
      target: { type: "instance", id: name },
      outcome: "pending",
      jobId: row.id,
      detail: { hostId: host.id, memoryMB: quotas.instanceMemoryMB, cpus: quotas.instanceCpus, diskGB: quotas.instanceDiskGB },
    });
    return row;
  });
  await publishJob(s.db, queue, s.logger, job);
  // The person's devices may reach the new address; not awaited: nothing of the answer depends on it,
  // and a failure is logged and repaired by the host's next reconcile.
  const ownerAddress = (job.payload as { ipv4Address: string }).ipv4Address;
  void queueOwnerChange(s.db, queue, s.logger, { userId, hostId: job.hostId, ownerAddress, deadlineSeconds: s.config.jobDeadlineSeconds }).catch((err: unknown) =>
    s.logger.warn("device peers not updated for the new instance", { jobId: job.id, err }),
  );
  return job;
}

export type InstanceAction = "start" | "stop" | "kill";

/** Start, stop or kill: one job for the user's instance, refused while another runs. */
export async function instanceAction(s: Services, who: Person, action: InstanceAction): Promise<Job> {
  const { userId } = who;
  const { queue } = ready(s);
  const job = await s.db.transaction(async (tx) => {
    await lockUser(tx, userId);
    const instance = await instanceOfUser(tx, userId, true);
    if (!instance) throw new AppError("not_found", "you have no instance; deploy one first");
    await refuseWhileOpen(tx, instance.jobId, "your instance");
    if (action !== "kill" && instance.state === "failed") {
      throw new AppError("conflict", "your instance failed to deploy: deploy it again, or kill it");
    }
    const row = await queueInstanceJob(tx, s, instance, action);
    await audit(tx, who, { action: `instance.${action}`, target: { type: "instance", id: instance.name }, outcome: "pending", jobId: row.id });
    return row;
  });
  if (action === "kill") {
    // Before the kill's message: the devices lose the address before it can be freed and reused.
    await queueOwnerChange(s.db, queue, s.logger, { userId, hostId: job.hostId, ownerAddress: null, deadlineSeconds: s.config.jobDeadlineSeconds });
  }
  await publishJob(s.db, queue, s.logger, job);
  return job;
}

/**
 * The job of `action` for an instance whose row `tx` holds locked and whose own job is not open
 * (the caller checked), recorded as its latest; the caller publishes it after the commit.
 */
export async function queueInstanceJob(tx: Database, s: Services, instance: Instance, action: InstanceAction): Promise<Job> {
  const base = { hostId: instance.hostId, userId: instance.userId };
  const row =
    action === "start"
      ? await newJob(tx, s, {
          ...base,
          kind: "instance.start",
          payload: { name: instance.name, ...(s.config.instances.provision ? { ready: { ipv4Address: instance.ipv4, port: IDE_PORT } } : {}) },
        })
      : action === "stop"
        ? await newJob(tx, s, { ...base, kind: "instance.stop", payload: { name: instance.name, timeoutSeconds: STOP_TIMEOUT_SECONDS } })
        : await newJob(tx, s, { ...base, kind: "instance.delete", payload: { name: instance.name } });
  await updateInstance(tx, instance.id, { jobId: row.id });
  return row;
}

export interface InstanceView {
  instance?: Instance;
  host?: Host;
  job?: Job;
  password?: string;
  activity?: InstanceActivity;
}

export async function viewInstance(s: Services, userId: string, reveal: boolean): Promise<InstanceView> {
  const instance = await instanceOfUser(s.db, userId);
  if (!instance) return {};
  const [host, job, activity] = await Promise.all([
    getHost(s.db, instance.hostId),
    instance.jobId ? getJob(s.db, instance.jobId) : undefined,
    activityOf(s.db, instance.id),
  ]);
  let password: string | undefined;
  if (reveal) password = await ready(s).box.open(instance.passwordEncrypted, passwordContext(instance));
  return { instance, host, job, password, activity };
}
