import { LxdError } from "./errors";
import { parseEnvelope } from "./envelope";
import { unixRequest } from "./transport";
import type {
  CreateInstanceSpec,
  ExecOptions,
  ExecResult,
  LxdAsyncEnvelope,
  LxdDevice,
  LxdImageAlias,
  LxdInstance,
  LxdInstanceState,
  LxdInstanceStateRaw,
  LxdNetwork,
  LxdOperation,
  LxdServerInfo,
  LxdStoragePool,
  LxdSyncEnvelope,
  PushFileOptions,
  StopInstanceOptions,
} from "./types";

/** One DHCP lease or reservation on a managed network. */
export interface LxdNetworkLease {
  hostname: string;
  address: string;
  hwaddr: string;
  /** "static" (a reservation), "dynamic" or "gateway" */
  type: string;
}

export interface LxdClientOptions {
  socketPath: string;
  /** Per HTTP request; operation waits have their own, longer limits. */
  timeoutMs?: number;
  /** Told how long each call took until LXD was done with it (the agent's metrics), failed ones too. */
  onTiming?: (operation: string, seconds: number) => void;
}

const OP_SUCCESS = 200;
const OP_FAILURE = 400;
const OP_CANCELLED = 401;
const OP_UNFINISHED = new Set([100, 103, 105]);

// LXD holds a wait request open for up to this long; the loop re-asks until the caller's deadline.
const MAX_WAIT_SECONDS = 30;

const SECOND = 1000;
const MINUTE = 60 * SECOND;

type Body = Buffer | object;

const seg = (name: string) => encodeURIComponent(name);

/** A call's kind for its timing: the method and the path without the query and without names (`/1.0/instances/:name/state`). */
export function operationOf(method: string, path: string): string {
  const bare = path.split("?")[0]!;
  return `${method} ${bare.replace(/\/(instances|aliases|networks|storage-pools|operations|profiles|volumes|images)\/(?!aliases(\/|$))[^/]+/g, "/$1/:name")}`;
}

export class LxdClient {
  readonly socketPath: string;
  private readonly timeoutMs: number;
  private readonly onTiming: LxdClientOptions["onTiming"];
  private extensions: Promise<Set<string>> | undefined;

  constructor(options: LxdClientOptions) {
    this.socketPath = options.socketPath;
    this.timeoutMs = options.timeoutMs ?? 30 * SECOND;
    this.onTiming = options.onTiming;
  }

  /** Runs one call and reports its time under `method path`. */
  private async timed<T>(method: string, path: string, call: () => Promise<T>): Promise<T> {
    if (!this.onTiming) return call();
    const started = performance.now();
    try {
      return await call();
    } finally {
      this.onTiming(operationOf(method, path), (performance.now() - started) / 1000);
    }
  }

  /** One API call; throws LxdError on an error envelope, returns the sync or async envelope. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: Body,
    headers: Record<string, string> = {},
    timeoutMs = this.timeoutMs,
  ): Promise<LxdSyncEnvelope<T> | LxdAsyncEnvelope> {
    let raw: Buffer | undefined;
    const h = { ...headers };
    if (Buffer.isBuffer(body)) {
      raw = body;
      h["Content-Type"] ??= "application/octet-stream";
    } else if (body !== undefined) {
      raw = Buffer.from(JSON.stringify(body));
      h["Content-Type"] ??= "application/json";
    }
    const res = await unixRequest({ socketPath: this.socketPath, method, path, body: raw, headers: h, timeoutMs });
    return parseEnvelope<T>(res, { method, path });
  }

  /** Waits for an operation to end; throws LxdError with the operation's `err` when it failed. */
  async waitOperation(opPath: string, timeoutMs: number): Promise<LxdOperation> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new LxdError(504, `operation ${opPath} did not finish within ${Math.round(timeoutMs / SECOND)} s`, {
          operationPath: opPath,
        });
      }
      const seconds = Math.min(MAX_WAIT_SECONDS, Math.max(1, Math.ceil(remaining / SECOND)));
      let op: LxdOperation;
      try {
        op = await this.sync<LxdOperation>("GET", `${opPath}/wait?timeout=${seconds}`, undefined, {}, (seconds + 10) * SECOND);
      } catch (err) {
        if (!(err instanceof LxdError)) throw err;
        // LXD 5.21+ answers a failed or timed-out wait with an error envelope; the operation tells which.
        const current = await this.sync<LxdOperation>("GET", opPath).catch(() => undefined);
        if (!current) throw new LxdError(err.status, err.lxdMessage, { ...err.details, operationPath: opPath });
        op = current;
      }
      if (op.status_code === OP_SUCCESS) return op;
      if (op.status_code === OP_FAILURE || op.status_code === OP_CANCELLED) {
        throw new LxdError(op.status_code, op.err || op.status, { operationPath: opPath, operation: op });
      }
    }
  }

  async serverInfo(): Promise<LxdServerInfo> {
    const info = await this.sync<{
      api_version: string;
      api_extensions: string[];
      environment: Record<string, unknown> & { server_version?: string; server?: string };
    }>("GET", "/1.0");
    return {
      apiVersion: info.api_version,
      serverVersion: String(info.environment.server_version ?? ""),
      server: String(info.environment.server ?? ""),
      environment: info.environment,
      apiExtensions: info.api_extensions,
    };
  }

  /** Operations that have not ended yet (created, running or pending), from every status list. */
  async listUnfinishedOperations(): Promise<LxdOperation[]> {
    const byStatus = await this.sync<Record<string, LxdOperation[] | null> | null>("GET", "/1.0/operations?recursion=1");
    return Object.values(byStatus ?? {})
      .flatMap((ops) => ops ?? [])
      .filter((op) => OP_UNFINISHED.has(op.status_code));
  }

  listImageAliases(): Promise<LxdImageAlias[]> {
    return this.sync<LxdImageAlias[]>("GET", "/1.0/images/aliases?recursion=1");
  }

  async imageAliasExists(alias: string): Promise<boolean> {
    return (await this.getOrUndefined<LxdImageAlias>(`/1.0/images/aliases/${seg(alias)}`)) !== undefined;
  }

  /** Uploads a unified image tarball (metadata.yaml + rootfs/); returns its fingerprint. */
  async importImage(tarball: Buffer, timeoutMs = 10 * MINUTE): Promise<string> {
    const op = await this.operation("POST", "/1.0/images", tarball, {}, timeoutMs);
    const fingerprint = (op.metadata as { fingerprint?: unknown } | null)?.fingerprint;
    if (typeof fingerprint !== "string") throw new LxdError(502, "image import finished without a fingerprint");
    return fingerprint;
  }

  async createImageAlias(name: string, fingerprint: string, description = ""): Promise<void> {
    await this.sync("POST", "/1.0/images/aliases", { name, target: fingerprint, description });
  }

  listStoragePools(): Promise<LxdStoragePool[]> {
    return this.sync<LxdStoragePool[]>("GET", "/1.0/storage-pools?recursion=1");
  }

  getStoragePool(name: string): Promise<LxdStoragePool | undefined> {
    return this.getOrUndefined<LxdStoragePool>(`/1.0/storage-pools/${seg(name)}`);
  }

  listNetworks(): Promise<LxdNetwork[]> {
    return this.sync<LxdNetwork[]>("GET", "/1.0/networks?recursion=1");
  }

  getNetwork(name: string): Promise<LxdNetwork | undefined> {
    return this.getOrUndefined<LxdNetwork>(`/1.0/networks/${seg(name)}`);
  }

  listNetworkLeases(network: string): Promise<LxdNetworkLease[]> {
    return this.sync<LxdNetworkLease[]>("GET", `/1.0/networks/${seg(network)}/leases`);
  }

  listInstances(): Promise<LxdInstance[]> {
    return this.sync<LxdInstance[]>("GET", "/1.0/instances?recursion=1");
  }

  getInstance(name: string): Promise<LxdInstance | undefined> {
    return this.getOrUndefined<LxdInstance>(`/1.0/instances/${seg(name)}`);
  }

  async getInstanceState(name: string): Promise<LxdInstanceState> {
    const raw = await this.sync<LxdInstanceStateRaw>("GET", `/1.0/instances/${seg(name)}/state`);
    const ipv4 = (raw.network?.eth0?.addresses ?? [])
      .filter((a) => a.family === "inet" && a.scope === "global")
      .map((a) => a.address);
    return { status: raw.status, ipv4, raw };
  }

  /** Creates (does not start) an instance from a local image alias. */
  async createInstance(spec: CreateInstanceSpec, timeoutMs = 5 * MINUTE): Promise<void> {
    await this.operation(
      "POST",
      "/1.0/instances",
      {
        name: spec.name,
        type: spec.type ?? "container",
        source: { type: "image", alias: spec.image },
        config: spec.config ?? {},
        devices: spec.devices ?? {},
        // Leaving profiles out lets LXD apply ["default"]; an explicit [] would mean none.
        ...(spec.profiles ? { profiles: spec.profiles } : {}),
      },
      {},
      timeoutMs,
    );
  }

  /** Merges config keys and whole devices into the instance's own (PATCH); other devices stay. */
  async updateInstance(name: string, patch: { config?: Record<string, string>; devices?: Record<string, LxdDevice> }, timeoutMs = MINUTE): Promise<void> {
    await this.operation("PATCH", `/1.0/instances/${seg(name)}`, patch, {}, timeoutMs);
  }

  async startInstance(name: string, timeoutMs = 2 * MINUTE): Promise<void> {
    await this.operation("PUT", `/1.0/instances/${seg(name)}/state`, { action: "start" }, {}, timeoutMs);
  }

  /** Without a timeout LXD would wait forever for a clean shutdown, so one is always sent. */
  async stopInstance(name: string, options: StopInstanceOptions = {}): Promise<void> {
    const timeoutSeconds = options.timeoutSeconds ?? 30;
    await this.operation(
      "PUT",
      `/1.0/instances/${seg(name)}/state`,
      { action: "stop", force: options.force ?? false, timeout: timeoutSeconds },
      {},
      (timeoutSeconds + 60) * SECOND,
    );
  }

  async deleteInstance(name: string, timeoutMs = 2 * MINUTE): Promise<void> {
    await this.operation("DELETE", `/1.0/instances/${seg(name)}`, undefined, {}, timeoutMs);
  }

  /**
   * Runs argv (never a shell string) and returns its exit code and recorded output.
   * Exit codes 126/127 make LXD fail the operation itself: those throw LxdError.
   */
  exec(name: string, options: ExecOptions): Promise<ExecResult> {
    if (options.command.length === 0) throw new TypeError("exec: command must not be empty");
    return this.timed("POST", `/1.0/instances/${seg(name)}/exec`, () => this.execUntimed(name, options));
  }

  private async execUntimed(name: string, options: ExecOptions): Promise<ExecResult> {
    const started = await this.request("POST", `/1.0/instances/${seg(name)}/exec`, {
      command: options.command,
      environment: options.env ?? {},
      "wait-for-websocket": false,
      "record-output": true,
      interactive: false,
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.group !== undefined ? { group: options.group } : {}),
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    });
    if (started.type !== "async") throw new LxdError(502, "exec did not start an operation");

    let op: LxdOperation;
    try {
      op = await this.waitOperation(started.operation, options.timeoutMs ?? 10 * MINUTE);
    } catch (err) {
      if (err instanceof LxdError && err.details.operation) {
        await this.deleteLogs(execOutput(err.details.operation));
      }
      throw err;
    }
    const output = execOutput(op);
    try {
      const [stdout, stderr] = await Promise.all([
        output["1"] ? this.readLog(output["1"]) : "",
        output["2"] ? this.readLog(output["2"]) : "",
      ]);
      const ret = (op.metadata as { return?: unknown } | null)?.return;
      return { exitCode: typeof ret === "number" ? ret : -1, stdout, stderr };
    } finally {
      // LXD 5.0 keeps these files forever and without a size cap.
      await this.deleteLogs(output);
    }
  }

  /** Writes a file in the instance, replacing it if present; owner and mode apply in both cases. */
  async pushFile(name: string, path: string, content: Buffer | string, options: PushFileOptions = {}): Promise<void> {
    const filesPath = `/1.0/instances/${seg(name)}/files?path=${encodeURIComponent(path)}`;
    const uid = String(options.uid ?? 0);
    const gid = String(options.gid ?? 0);
    const mode = (options.mode ?? 0o644).toString(8).padStart(4, "0");
    const headers: Record<string, string> = {};
    // Incus only reads X-Incus-*, LXD only X-LXD-*: sending both works with either.
    for (const prefix of ["X-LXD", "X-Incus"]) {
      headers[`${prefix}-uid`] = uid;
      headers[`${prefix}-gid`] = gid;
      headers[`${prefix}-mode`] = mode;
      headers[`${prefix}-type`] = "file";
      headers[`${prefix}-write`] = "overwrite";
      headers[`${prefix}-modify-perm`] = "uid,gid,mode";
    }
    if (!(await this.hasExtension("instances_files_modify_permissions"))) {
      // Older LXD (5.0) keeps an existing file's owner and mode on overwrite and has no
      // modify-perm header: remove a plain file first so the new owner and mode apply.
      const head = await unixRequest({ socketPath: this.socketPath, method: "HEAD", path: filesPath, timeoutMs: this.timeoutMs });
      const type = head.headers["x-lxd-type"] ?? head.headers["x-incus-type"];
      if (head.status === 200 && type === "file") await this.sync("DELETE", filesPath);
    }
    await this.sync("POST", filesPath, typeof content === "string" ? Buffer.from(content, "utf8") : content, headers);
  }

  /** Whether the server lists an API extension; asked once per client. */
  async hasExtension(extension: string): Promise<boolean> {
    this.extensions ??= this.serverInfo().then(
      (info) => new Set(info.apiExtensions),
      (err: unknown) => {
        this.extensions = undefined;
        throw err;
      },
    );
    return (await this.extensions).has(extension);
  }

  private async sync<T>(
    method: string,
    path: string,
    body?: Body,
    headers: Record<string, string> = {},
    timeoutMs?: number,
  ): Promise<T> {
    // An operation's wait is part of the call that started it, timed there.
    const call = () => this.request<T>(method, path, body, headers, timeoutMs);
    const env = path.startsWith("/1.0/operations") ? await call() : await this.timed(method, path, call);
    if (env.type !== "sync") throw new LxdError(502, `expected a sync answer to ${method} ${path}, got ${env.type}`);
    return env.metadata;
  }

  /** A call that LXD runs as a background operation, waited for to its end. */
  private async operation(
    method: string,
    path: string,
    body: Body | undefined,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<LxdOperation> {
    return this.timed(method, path, async () => {
      const env = await this.request(method, path, body, headers);
      if (env.type === "async") return this.waitOperation(env.operation, timeoutMs);
      return { id: "", class: "sync", description: "", status: "Success", status_code: OP_SUCCESS, metadata: null, may_cancel: false, err: "" };
    });
  }

  private async getOrUndefined<T>(path: string): Promise<T | undefined> {
    try {
      return await this.sync<T>("GET", path);
    } catch (err) {
      if (err instanceof LxdError && err.status === 404) return undefined;
      throw err;
    }
  }

  private async readLog(path: string): Promise<string> {
    const res = await unixRequest({ socketPath: this.socketPath, method: "GET", path, timeoutMs: this.timeoutMs });
    if (res.status !== 200) {
      parseEnvelope(res, { method: "GET", path });
      throw new LxdError(res.status, `reading ${path} answered HTTP ${res.status}`, { method: "GET", path });
    }
    return res.body.toString("utf8");
  }

  private async deleteLogs(output: Record<string, string>): Promise<void> {
    // Best effort: a log that cannot be removed must not hide the command's own result.
    await Promise.all(
      Object.values(output).map((path) => this.request("DELETE", path).catch(() => undefined)),
    );
  }
}

function execOutput(op: LxdOperation): Record<string, string> {
  const output = (op.metadata as { output?: unknown } | null)?.output;
  if (!output || typeof output !== "object") return {};
  return Object.fromEntries(
    Object.entries(output as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
}
