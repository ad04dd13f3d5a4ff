/**
 * The agent sends its host credential to the gateway and receives instance passwords from it:
 * over plain http:// or ws:// anyone on the path reads both. Only loopback (the embedded agent
 * of `npm start`, a TLS proxy on the same machine) is exempt, unless the operator says otherwise.
 */
export const INSECURE_GATEWAY_FLAG = "--insecure-gateway";

/** 127.0.0.0/8, ::1 and localhost, as WHATWG URL normalizes host names ("127.1" is 127.0.0.1, IPv6 in brackets). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  return host === "localhost" || host.endsWith(".localhost") || host === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(host);
}

export interface InsecureGateway {
  problem: string;
  fix: string;
}

/** What is wrong with using this gateway URL and how to fix it, or undefined when the agent may. */
export function insecureGateway(gatewayUrl: string, insecureAllowed: boolean): InsecureGateway | undefined {
  const url = new URL(gatewayUrl);
  if (insecureAllowed || (url.protocol !== "http:" && url.protocol !== "ws:") || isLoopbackHost(url.hostname)) return undefined;
  return {
    problem: `the gateway ${url.origin} is plain ${url.protocol.slice(0, -1)}: the host credential and instance passwords would cross the network unencrypted`,
    fix: `use https:// (the control plane behind TLS), or pass ${INSECURE_GATEWAY_FLAG} if this network is trusted`,
  };
}

export class InsecureGatewayError extends Error {
  override name = "InsecureGatewayError";
}

/** Throws InsecureGatewayError with the reason and the flag that overrides it. */
export function assertSecureGateway(gatewayUrl: string, insecureAllowed: boolean): void {
  const insecure = insecureGateway(gatewayUrl, insecureAllowed);
  if (insecure) throw new InsecureGatewayError(`${insecure.problem}; ${insecure.fix}`);
}
