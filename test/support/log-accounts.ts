import { bodyAt, fetchApi } from "./api";
import type { Program } from "./processes";

export interface SignedInAccount {
  username: string;
  password: string;
  /** The session cookie header of a sign-in. */
  cookie: string;
  /** An API token of the account. */
  token: string;
}

/**
 * Registers, verifies and signs in an account on a control plane running as `program` at `url`,
 * which mails to its log (no SMTP_URL): the verification link is read from its log lines. Answers
 * the session cookie and an API token.
 */
export async function accountThroughLog(
  program: Program,
  url: string,
  email = `user.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}@example.org`,
): Promise<SignedInAccount> {
  const password = "User-Pass-123";
  const username = `u_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const post = <P extends string>(path: P, body: unknown, headers: Record<string, string> = {}) => fetchApi(url, "POST", `/api/v1${path}`, { body, headers });
  // A client address of its own (where TRUST_PROXY is on): tests make more accounts than the sign-up limit allows one address.
  const forwardedFor = `10.${[0, 0, 0].map(() => Math.floor(Math.random() * 250)).join(".")}`;
  const reg = await post("/auth/register", { email, username, password, firstName: "Ada", lastName: "Lovelace" }, { "x-forwarded-for": forwardedFor });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text}`);
  const mail = await program.waitFor((l) => l.msg === "mail" && l.to === email);
  const verifyToken = new URL(String(mail.text).match(/https?:\/\/\S+/)![0]).searchParams.get("token");
  const verified = await post("/auth/verify", { token: verifyToken });
  if (verified.status !== 200) throw new Error(`verify: ${verified.status} ${verified.text}`);
  const login = await post("/auth/login", { username, password });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${login.text}`);
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  const { secret } = bodyAt(await post("/tokens", { name: "test" }, { cookie }), 201);
  return { username, password, cookie, token: secret };
}
