import { z } from "zod";

/**
 * Where devices dial a host: a DNS name, an IPv4 address or an IPv6 address, and as an endpoint
 * `host:port` (IPv6 in brackets). These values end up in people's wg-quick configs, so anything
 * beyond that grammar (spaces, newlines, `=`, `#`, stray brackets) is refused.
 */

const ipv4 = z.ipv4();
const ipv6 = z.ipv6();
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** A DNS name of letters, digits and '-' labels; an all-numeric last label would read as a bad IPv4 address. */
export function isDnsName(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.split(".");
  return labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels.at(-1)!);
}

/** A DNS name, an IPv4 address or a bare (unbracketed) IPv6 address. */
export function isHostAddress(text: string): boolean {
  return isDnsName(text) || ipv4.safeParse(text).success || ipv6.safeParse(text).success;
}

const PORT = /^(?:[1-9]\d{0,4})$/;

/** `host:port` with a DNS name, an IPv4 address or `[IPv6]`, and a port 1-65535. */
export function isEndpoint(text: string): boolean {
  const bracketed = /^\[([^\]]+)\]:([^:]+)$/.exec(text);
  const plain = bracketed ? undefined : /^([^:[\]]+):([^:]+)$/.exec(text);
  const [, host, port] = bracketed ?? plain ?? [];
  if (host === undefined || port === undefined || !PORT.test(port) || Number(port) > 65_535) return false;
  return bracketed ? ipv6.safeParse(host).success : isDnsName(host) || ipv4.safeParse(host).success;
}

/** `host:port`, bracketing an IPv6 address. */
export function formatEndpoint(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

export const endpoint = z
  .string()
  .max(300)
  .refine(isEndpoint, "must be host:port with a DNS name, an IPv4 address or [IPv6], and a port 1-65535");
