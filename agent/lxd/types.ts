/** Shapes of LXD's REST API (5.0 and later) as far as KWS uses them. */

export interface LxdSyncEnvelope<T = unknown> {
  type: "sync";
  status_code: number;
  metadata: T;
}

export interface LxdAsyncEnvelope {
  type: "async";
  status_code: number;
  operation: string;
  metadata: LxdOperation;
}

export interface LxdErrorEnvelope {
  type: "error";
  error: string;
  error_code: number;
}

export type LxdEnvelope<T = unknown> = LxdSyncEnvelope<T> | LxdAsyncEnvelope | LxdErrorEnvelope;

/** 100 created, 103 running, 105 pending, 200 success, 400 failure, 401 cancelled. */
export type LxdOperationStatusCode = number;

export interface LxdOperation<M = Record<string, unknown> | null> {
  id: string;
  class: string;
  description: string;
  status: string;
  status_code: LxdOperationStatusCode;
  metadata: M;
  resources?: Record<string, string[]> | null;
  may_cancel: boolean;
  err: string;
}

export interface LxdServerInfo {
  apiVersion: string;
  serverVersion: string;
  /** "lxd" or "incus" */
  server: string;
  /** The raw environment block (kernel, driver, storage, ...). */
  environment: Record<string, unknown>;
  apiExtensions: string[];
}

export interface LxdImageAlias {
  name: string;
  target: string;
  description: string;
  type?: string;
}

export interface LxdStoragePool {
  name: string;
  driver: string;
  status?: string;
  config: Record<string, string>;
  used_by: string[] | null;
}

export interface LxdNetwork {
  name: string;
  type: string;
  managed: boolean;
  status?: string;
  config: Record<string, string>;
  used_by: string[] | null;
}

export type LxdDevice = Record<string, string>;

export interface LxdInstance {
  name: string;
  type: string;
  status: string;
  status_code: number;
  architecture: string;
  config: Record<string, string>;
  devices: Record<string, LxdDevice>;
  expanded_config?: Record<string, string>;
  expanded_devices?: Record<string, LxdDevice>;
  profiles: string[];
  created_at: string;
}

export interface LxdInstanceStateRaw {
  status: string;
  status_code: number;
  pid: number;
  processes: number;
  network: Record<
    string,
    {
      addresses: { family: string; address: string; netmask: string; scope: string }[] | null;
      hwaddr: string;
      host_name: string;
      state: string;
    }
  > | null;
}

export interface LxdInstanceState {
  /** "Running", "Stopped", ... as LXD spells it. */
  status: string;
  /** Global IPv4 addresses on eth0. */
  ipv4: string[];
  raw: LxdInstanceStateRaw;
}

export interface CreateInstanceSpec {
  name: string;
  /** Alias of a local image, e.g. "kws/busybox". */
  image: string;
  /** Values are strings in LXD's API, even numbers and booleans. */
  config?: Record<string, string>;
  devices?: Record<string, LxdDevice>;
  /** Omitted: LXD applies ["default"]. [] means no profile. */
  profiles?: string[];
  type?: "container" | "virtual-machine";
}

export interface StopInstanceOptions {
  force?: boolean;
  /** How long LXD waits for a clean shutdown before giving up (or killing, with force). */
  timeoutSeconds?: number;
}

export interface ExecOptions {
  command: string[];
  env?: Record<string, string>;
  user?: number;
  group?: number;
  cwd?: string;
  timeoutMs?: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface PushFileOptions {
  uid?: number;
  gid?: number;
  /** Numeric mode, e.g. 0o644. */
  mode?: number;
}
