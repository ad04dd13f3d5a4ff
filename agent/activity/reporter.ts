import type { Logger } from "../../shared/logger";
import type { ActivitySettings, AgentMessageBody, InstanceActivityReport } from "../../shared/protocol/messages";
import type { LxdClient } from "../lxd/client";
import type { LxdInstance } from "../lxd/types";
import type { StreamActivity } from "../streams/activity";
import { establishedTo, heartbeatAge } from "./probes";

export interface ActivityReporterOptions {
  /** The LXD client while LXD answers. */
  lxd: () => LxdClient | undefined;
  streams: StreamActivity;
  send: (body: AgentMessageBody) => boolean;
  logger: Logger;
  /** Where the containers' network tables are read (tests). */
  procRoot?: string;
}

/** The static address KWS gave an instance's NIC: instances without one are not KWS's to report. */
const staticAddress = (i: LxdInstance) => (i.expanded_devices ?? i.devices).eth0?.["ipv4.address"];

/**
 * Reports what goes on in the host's running instances for idle auto-stop, as often as the
 * gateway's welcome asks (none without): code-server's heartbeat, established SSH sessions and
 * streams through this agent. Read from the host, with nothing run inside the containers.
 */
export class ActivityReporter {
  private timer: NodeJS.Timeout | undefined;
  private settings: ActivitySettings | undefined;
  private running: Promise<void> | undefined;
  private unreadable = false;

  constructor(private readonly o: ActivityReporterOptions) {}

  /** Each welcome says how often to report, or (absent) not to. */
  configure(settings: ActivitySettings | undefined): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.settings = settings;
    if (!settings) return;
    this.timer = setInterval(() => void this.report(), settings.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    this.configure(undefined);
  }

  /** One report; one already being made is waited for instead. */
  report(): Promise<void> {
    this.running ??= this.collect()
      .then((instances) => void (instances && this.o.send({ type: "activity", instances })))
      .catch((err: unknown) => this.o.logger.warn("activity report failed", { err }))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async collect(): Promise<InstanceActivityReport[] | undefined> {
    const lxd = this.o.lxd();
    const settings = this.settings;
    if (!lxd || !settings) return undefined;
    const running = (await lxd.listInstances()).filter((i) => i.status === "Running" && staticAddress(i));
    return Promise.all(running.map((i) => this.instance(lxd, i, staticAddress(i)!, settings)));
  }

  private async instance(lxd: LxdClient, i: LxdInstance, address: string, settings: ActivitySettings): Promise<InstanceActivityReport> {
    const streams = this.o.streams.of(address);
    const [ideIdleMs, sshSessions] = await Promise.all([heartbeatAge(address, settings.idePort), this.sshSessions(lxd, i.name, settings.sshPort)]);
    return { name: i.name, ideIdleMs, sshSessions, streamsOpen: streams.open, streamsIdleMs: streams.idleMs };
  }

  private async sshSessions(lxd: LxdClient, name: string, port: number): Promise<number | null> {
    try {
      const { raw } = await lxd.getInstanceState(name);
      return await establishedTo(raw.pid, port, this.o.procRoot);
    } catch (err) {
      // Not root, or the instance stopped meanwhile: SSH goes unreported (said once, not every report).
      if (!this.unreadable) this.o.logger.warn("cannot read an instance's SSH sessions: idle auto-stop will not see them", { instance: name, err });
      this.unreadable = true;
      return null;
    }
  }
}
