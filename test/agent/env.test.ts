import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCliArgs } from "../../agent/cli-args";
import { readAgentEnvironment } from "../../agent/env";

test("the agent reads its variables in one place: empty ones are unset, flags still win over them", () => {
  const env = readAgentEnvironment({ KWS_GATEWAY_URL: "https://kws.example.org", KWS_WG_PORT: " ", KWS_STREAMS: "off", KWS_AGENT_STATE_DIR: "/srv/agent", PATH: "/usr/bin" });
  assert.equal(env.gatewayUrl, "https://kws.example.org");
  assert.equal(env.wgPort, undefined);
  assert.equal(env.searchPath, "/usr/bin");
  const args = parseCliArgs(["--gateway", "https://other.example.org"], env);
  assert.deepEqual(
    { gatewayUrl: args.gatewayUrl, stateDir: args.stateDir, wgPort: args.wgPort, streams: args.streams },
    { gatewayUrl: "https://other.example.org", stateDir: "/srv/agent", wgPort: undefined, streams: false },
  );
});
