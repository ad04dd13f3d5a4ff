import { Client } from "ssh2";

/** Logs in over SSH with a password and runs one command; rejects when the login is refused. */
export function sshRun(o: { host: string; username: string; password: string; command: string; stdin?: string }): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const conn = new Client();
    conn
      .on("ready", () => {
        conn.exec(o.command, (err, stream) => {
          if (err) return reject(err);
          let stdout = "";
          stream.on("data", (d: Buffer) => (stdout += d.toString()));
          stream.stderr.on("data", () => undefined);
          stream.on("close", (code: number) => {
            conn.end();
            resolve({ code, stdout });
          });
          if (o.stdin !== undefined) stream.end(o.stdin);
        });
      })
      .on("error", reject)
      .connect({ host: o.host, port: 22, username: o.username, password: o.password, readyTimeout: 15_000, tryKeyboard: false });
  });
}

/** code-server's login form: its status for this password (302 accepted, 200 the form again). */
export async function ideLogin(ip: string, password: string): Promise<number> {
  const res = await fetch(`http://${ip}:8099/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ password }).toString(),
    redirect: "manual",
    signal: AbortSignal.timeout(10_000),
  });
  await res.body?.cancel();
  return res.status;
}

/** Whether anything answers HTTP on the address and port right now. */
export async function answers(ip: string, port = 8099): Promise<boolean> {
  try {
    const res = await fetch(`http://${ip}:${port}/healthz`, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}
