import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freePort } from "./processes";

/**
 * A PostgreSQL cluster of the test's own, because the machine's cluster trusts every local
 * connection and so cannot prove that a password works: initdb with --auth=scram-sha-256 into a
 * temporary directory, its own port, every statement logged (log_statement=all) to a file the
 * test reads. initdb refuses to run as root, so the server runs as the `postgres` OS user.
 */
export interface PgTestCluster {
  /** Superuser connection string (what PG_SERVICE_URL gets). */
  adminUrl: string;
  adminUser: string;
  host: string;
  port: number;
  /** A connection string for `user`/`password` to `database`. */
  url(user: string, password: string, database: string): string;
  /** The server's log so far (every statement it received). */
  log(): string;
  stop(): Promise<void>;
}

const BIN = process.env.KWS_TEST_PG_BIN ?? "/usr/lib/postgresql/15/bin";
const OS_USER = process.env.KWS_TEST_PG_OS_USER ?? "postgres";

function osUser(name: string): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no OS user ${name} to run the test PostgreSQL as`);
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

function run(cmd: string, args: string[], ids: { uid: number; gid: number } | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...(ids ?? {}), stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "", LC_ALL: "C" } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out}`))));
  });
}

export async function startPgCluster(): Promise<PgTestCluster> {
  const ids = process.getuid?.() === 0 ? osUser(OS_USER) : undefined;
  const root = mkdtempSync(join(tmpdir(), "kws-pg-"));
  const dataDir = join(root, "data");
  const logFile = join(root, "server.log");
  const pwFile = join(root, "pw");
  const adminUser = "kws_admin";
  const adminPassword = randomBytes(18).toString("base64url");
  writeFileSync(pwFile, adminPassword, { mode: 0o600 });
  writeFileSync(logFile, "");
  if (ids) for (const p of [root, pwFile, logFile]) chownSync(p, ids.uid, ids.gid);

  await run(
    join(BIN, "initdb"),
    ["-D", dataDir, "-U", adminUser, `--pwfile=${pwFile}`, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
    ids,
  );
  const port = await freePort();
  const options = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${root}`,
    "-c log_statement=all",
    "-c logging_collector=off",
    "-c log_connections=on",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=60",
  ].join(" ");
  await run(join(BIN, "pg_ctl"), ["-D", dataDir, "-l", logFile, "-o", options, "-w", "-t", "30", "start"], ids);

  const host = "127.0.0.1";
  const url = (user: string, password: string, database: string) =>
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
  const adminUrl = url(adminUser, adminPassword, "postgres");
  // The server answers before the test goes on.
  const probe = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await probe`select 1`;
  await probe.end();

  let stopped = false;
  return {
    adminUrl,
    adminUser,
    host,
    port,
    url,
    log: () => readFileSync(logFile, "utf8"),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try {
        await run(join(BIN, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"], ids);
      } finally {
        if (!process.env.KWS_TEST_KEEP_PG) rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
