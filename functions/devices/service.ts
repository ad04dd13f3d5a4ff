import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { uniqueViolation } from "../../shared/db/errors";
import { lockUser } from "../core/locks";
import { audit, type Person } from "../audit/record";
import { enforceQuota, quotasOf } from "../quotas/limits";
import type { Device, Host, Job } from "../../shared/db/schema";
import { deviceAddressHolder } from "./outcome";
import { AppError } from "../core/errors";
import { getHost } from "../hosts/store";
import { getJob, insertJob, isFinal, refuseWhileOpen } from "../core/jobs/store";
import { publishJob, submitJob } from "../core/jobs/submit";
import { homeHostFor } from "../hosts/home-host";
import { placementRules } from "../hosts/placement";
import type { QueuePort } from "../../shared/queue/port";
import { allocateOrRefuse } from "../addresses";
import { configured } from "../configured";
import type { Services } from "../services";
import { generateKeyPair } from "../../shared/crypto/x25519";
import { deviceNetwork, renderClientConfig } from "./client-config";
import {
  countDevices,
  deviceOfUser,
  devicesOfUser,
  insertDevice,
  ownerAddress,
  publicKeyTaken,
  recentStatusJob,
  setDeviceJob,
} from "./queries";

const queueOf = (s: Services): QueuePort => configured(s.queue, "devices need the Node control plane (job queue)");

const keyTaken = () =>
  new AppError("conflict", "publicKey: this key is already registered; every device needs a key of its own", {
    issues: [{ path: "publicKey", message: "is already registered" }],
  });

const deadline = (s: Services) => new Date(Date.now() + s.config.jobDeadlineSeconds * 1000);

export interface CreatedDevice {
  device: Device;
  job: Job;
  config: string;
}

/**
 * Registers a device on the person's home host: the row (pending), its tunnel address and the job
 * that adds the peer, in one transaction; then the message. The peer's failure rolls the row back
 * (functions/devices/outcome.ts). A key pair made here is returned inside the config only.
 */
export async function createDevice(s: Services, who: Person, body: { name: string; publicKey?: string }): Promise<CreatedDevice> {
  const { userId } = who;
  const queue = queueOf(s);
  const made = body.publicKey ? undefined : generateKeyPair();
  const publicKey = body.publicKey ?? made!.publicKey;
  let created: { device: Device; job: Job; owner: string | null; host: Host };
  try {
    created = await s.db.transaction(async (tx) => {
      await enforceQuota(tx, s.config, userId, "devices", () => countDevices(tx, userId));
      if (await publicKeyTaken(tx, publicKey)) throw keyTaken();
      const { instanceMemoryMB } = await quotasOf(tx, s.config, userId);
      const host = await homeHostFor(tx, userId, placementRules(s.config, instanceMemoryMB), false);
      const network = deviceNetwork(host);
      if (publicKey === network.wg.publicKey) {
        throw new AppError("invalid", "publicKey: is the host's own key, not a device's", {
          issues: [{ path: "publicKey", message: "is the host's own key, not a device's" }],
        });
      }
      const owner = await ownerAddress(tx, userId, host.id);
      // Last before the inserts: the allocation holds the pool's lock until the transaction ends.
      const id = randomUUID();
      const address = await allocateOrRefuse(
        tx,
        { hostId: host.id, pool: "wireguard", range: network.range, holder: deviceAddressHolder({ id }) },
        { exhausted: `host ${host.name} has no free device address left`, heldElsewhere: "this device already holds an address" },
      );
      const job = await insertJob(tx, {
        hostId: host.id,
        userId,
        kind: "wg.peer.add",
        payload: { publicKey, address: `${address}/32`, ownerAddress: owner },
        deadline: deadline(s),
      });
      const device = await insertDevice(tx, { id, userId, hostId: host.id, name: body.name, publicKey, address, state: "pending", jobId: job.id });
      await audit(tx, who, { action: "device.add", target: { type: "device", id }, outcome: "pending", jobId: job.id, detail: { name: body.name, address } });
      return { device, job, owner, host };
    });
  } catch (err) {
    // Two registrations of one key at once: the unique index decides, the loser gets the same 409.
    if (uniqueViolation(err) === "devices_public_key_key") throw keyTaken();
    throw err;
  }
  await publishJob(s.db, queue, s.logger, created.job);
  const config = renderClientConfig({
    privateKey: made?.privateKey,
    address: created.device.address,
    dns: s.config.deviceDns,
    network: deviceNetwork(created.host),
    ownerAddress: created.owner,
  });
  return { device: created.device, job: created.job, config };
}

/** The device's client config; the private key is never kept, so it has a placeholder. */
export async function deviceConfig(s: Services, userId: string, id: string): Promise<{ device: Device; config: string }> {
  const device = await deviceOfUser(s.db, userId, id);
  if (!device) throw new AppError("not_found", "no device of yours with that id");
  const host = await getHost(s.db, device.hostId);
  if (!host) throw new AppError("not_found", "the device's host is gone");
  const config = renderClientConfig({
    address: device.address,
    dns: s.config.deviceDns,
    network: deviceNetwork(host),
    ownerAddress: await ownerAddress(s.db, userId, host.id),
  });
  return { device, config };
}

/** Removes the peer through the pipeline; the row and the address go once the agent confirms. */
export async function removeDevice(s: Services, who: Person, id: string): Promise<Job> {
  const { userId } = who;
  const queue = queueOf(s);
  const job = await s.db.transaction(async (tx) => {
    await lockUser(tx, userId);
    const device = await deviceOfUser(tx, userId, id, true);
    if (!device) throw new AppError("not_found", "no device of yours with that id");
    await refuseWhileOpen(tx, device.jobId, "the device");
    const row = await insertJob(tx, { hostId: device.hostId, userId, kind: "wg.peer.remove", payload: { publicKey: device.publicKey }, deadline: deadline(s) });
    await setDeviceJob(tx, device.id, row.id, "removing");
    await audit(tx, who, { action: "device.remove", target: { type: "device", id }, outcome: "pending", jobId: row.id, detail: { name: device.name } });
    return row;
  });
  await publishJob(s.db, queue, s.logger, job);
  return job;
}

const STATUS_FRESH_MS = 10_000;
const STATUS_WAIT_MS = 2_000;

/**
 * The person's devices with traffic figures at most ~10 s old: a wg.status job on the home host is
 * asked for when the last one is older, and waited for briefly; if the host is slow or away, the
 * last figures are shown.
 */
export async function listDevices(s: Services, userId: string): Promise<Device[]> {
  const list = await devicesOfUser(s.db, userId);
  const hostId = list[0]?.hostId;
  if (hostId && s.queue) {
    const since = new Date(Date.now() - STATUS_FRESH_MS);
    let job = await recentStatusJob(s.db, hostId, since);
    if (!job) {
      job = await submitJob(s.db, s.queue, s.logger, { hostId, userId: null, kind: "wg.status", payload: {}, deadlineSeconds: 60 }).catch(() => undefined);
    }
    const until = Date.now() + STATUS_WAIT_MS;
    while (job && !isFinal(job.status) && Date.now() < until) {
      await delay(50);
      job = await getJob(s.db, job.id);
    }
    return devicesOfUser(s.db, userId);
  }
  return list;
}
