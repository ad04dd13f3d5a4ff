import type { IdleJson } from "./present";
import type { AwakeReason } from "./rules";
import { Field, PostForm } from "../web/layout";

/** What each reason means, in the words of the instance page. */
const REASONS: Record<AwakeReason, string> = {
  started: "it was started",
  ide: "VS Code in the browser was in use (code-server's heartbeat: a request, or an open tab)",
  ssh: "an SSH session was open",
  streams: "a connection through KWS was open (an IDE websocket, kws ssh, an app's request)",
  ingress: "a request came through its IDE or app address",
};

const LAST: [Exclude<keyof IdleJson["last"], "started">, string][] = [
  ["ide", "VS Code heartbeat"],
  ["ssh", "SSH session"],
  ["streams", "Connection through KWS"],
  ["ingress", "Request to its addresses"],
];

const when = (iso: string | null) => (iso ? new Date(iso).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "never");

/** Idle auto-stop on the instance page: when it stops, why it is still awake, the last activity of each kind, and the person's choice. */
export function IdleSection({ idle, running, action, csrf, value, error }: { idle: IdleJson; running: boolean; action: string; csrf: string; value?: string; error?: string }) {
  const open = (kind: "ssh" | "streams") => (idle.open[kind] ? ` (${idle.open[kind]} open)` : "");
  return (
    <section data-testid="idle">
      <h2>Idle auto-stop</h2>
      <p data-testid="idle-minutes">
        {idle.minutes === null ? "It is never stopped for being idle" : `It is stopped after ${idle.minutes} minutes without activity`}
        {idle.setting === "default" ? " (the default)." : " (your choice)."}
      </p>
      {running && idle.stopsAt ? (
        <p>
          Unless something happens, it stops at <strong data-testid="idle-stops-at">{when(idle.stopsAt)}</strong>.{" "}
          {idle.awakeBecause.length ? (
            <>
              It is awake because <span data-testid="idle-awake-because">{idle.awakeBecause.map((r) => REASONS[r]).join("; ")}</span> within that time.
            </>
          ) : null}
        </p>
      ) : null}
      <table data-testid="idle-activity">
        <tr>
          <th>Activity</th>
          <th>Last seen</th>
        </tr>
        {LAST.map(([kind, label]) => (
          <tr data-kind={kind}>
            <td>{label}</td>
            <td>
              {when(idle.last[kind])}
              {kind === "ssh" || kind === "streams" ? open(kind) : ""}
            </td>
          </tr>
        ))}
      </table>
      <PostForm action={action} csrf={csrf} submit="Save" testId="idle-save">
        <Field name="idleStop" label='Stop after this many idle minutes ("never" or "default" also work)' value={value ?? String(idle.setting)} error={error} autocomplete="off" />
      </PostForm>
    </section>
  );
}
