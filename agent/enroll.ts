import { z } from "zod";
import { gatewayEndpoint } from "./cli-args";
import { insecureGateway } from "./gateway-url";
import type { Credential, StateDir } from "./state";

export interface EnrollOptions {
  gatewayUrl: string;
  /** --insecure-gateway: the token and the credential may go over plain http:// off loopback. */
  insecureGateway?: boolean;
  token: string;
  state: StateDir;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** Enrollment did not happen; the message says why and what to do, ready to print. */
export class EnrollError extends Error {
  override name = "EnrollError";
}

const EnrolledSchema = z.object({ hostId: z.uuid(), hostName: z.string().min(1), credential: z.string().min(1) });
const ErrorEnvelopeSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string().optional() }),
});

/** Trades a one-time enrollment token for this host's credential and saves it in the state directory. */
export async function enroll(options: EnrollOptions): Promise<Credential> {
  const insecure = insecureGateway(options.gatewayUrl, options.insecureGateway ?? false);
  if (insecure) throw new EnrollError(`enrollment refused: ${insecure.problem}; ${insecure.fix}`);
  const url = gatewayEndpoint(options.gatewayUrl, "api/v1/agent/enroll");
  const doFetch = options.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ token: options.token }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
  } catch (err) {
    throw new EnrollError(
      `enrollment failed: cannot reach the gateway at ${url}: ${describeFetchError(err)}. ` +
        "Check --gateway (the control plane's public URL) and that the gateway is running.",
    );
  }
  const text = await res.text().catch(() => "");
  const body = parseJson(text);

  if (res.status === 201 || res.status === 200) {
    const enrolled = EnrolledSchema.safeParse(body);
    if (!enrolled.success) {
      throw new EnrollError(`enrollment failed: the gateway at ${url} answered ${res.status} without a host credential (is --gateway the KWS gateway?)`);
    }
    const credential: Credential = { ...enrolled.data, gatewayUrl: options.gatewayUrl };
    try {
      await options.state.saveCredential(credential);
    } catch (err) {
      throw new EnrollError(
        `enrolled as ${credential.hostName}, but the credential could not be saved to ${options.state.credentialPath}: ` +
          `${(err as Error).message}. The token is now used: create a new one and run again with a writable --state-dir.`,
      );
    }
    return credential;
  }

  const envelope = ErrorEnvelopeSchema.safeParse(body);
  const said = envelope.success
    ? `${envelope.data.error.message} (${envelope.data.error.code}${envelope.data.error.requestId ? `, request ${envelope.data.error.requestId}` : ""})`
    : text.trim().slice(0, 200) || "no details";
  if (res.status === 401) {
    throw new EnrollError(`enrollment failed: the gateway does not know this token: ${said}. Copy the token again, or create a new one.`);
  }
  if (res.status === 410) {
    throw new EnrollError(`enrollment failed: the token was already used or has expired: ${said}. Create a new enrollment token.`);
  }
  if (res.status === 404) {
    throw new EnrollError(`enrollment failed: ${url} does not exist (HTTP 404). Is --gateway the KWS control plane's base URL?`);
  }
  throw new EnrollError(`enrollment failed: the gateway answered HTTP ${res.status}: ${said}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** fetch hides the useful part (ECONNREFUSED, ENOTFOUND, a timeout) in `cause`. */
export function describeFetchError(err: unknown): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return "no answer in time";
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) return `${cause.code}${cause.message && !cause.message.includes(cause.code) ? ` (${cause.message})` : ""}`;
  return cause?.message ?? (err instanceof Error ? err.message : String(err));
}
