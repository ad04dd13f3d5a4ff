import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, parseConfig } from "../../shared/config";

test("instances get limits by default: 2 CPUs, a 10 GiB root disk, 2000 processes, 1500 MB", () => {
  const { instances, quotas } = parseConfig({});
  assert.deepEqual(
    { cpus: quotas.instanceCpus, diskGB: quotas.instanceDiskGB, processes: instances.processes, memoryMB: quotas.instanceMemoryMB },
    { cpus: 2, diskGB: 10, processes: 2000, memoryMB: 1500 },
  );
  const set = parseConfig({ KWS_INSTANCE_CPUS: "4", KWS_INSTANCE_DISK_GB: "25", KWS_INSTANCE_PROCESSES: "500" });
  assert.deepEqual([set.quotas.instanceCpus, set.quotas.instanceDiskGB, set.instances.processes], [4, 25, 500]);
});

test("a limit that is not a whole number in range stops the start, naming the variable", () => {
  for (const [name, value] of [
    ["KWS_INSTANCE_CPUS", "0"],
    ["KWS_INSTANCE_DISK_GB", "1.5"],
    ["KWS_INSTANCE_PROCESSES", "10"],
    ["KWS_INSTANCE_PROCESSES", "lots"],
  ] as const) {
    assert.throws(() => parseConfig({ [name]: value }), (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith(`${name}:`)), `${name}=${value}`);
  }
});
