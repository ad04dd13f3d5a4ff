/** IPv4 addresses as numbers, and the inclusive ranges address pools are drawn from. */

export const DEFAULT_BRIDGE_RANGE = "172.30.0.11-172.30.0.254";

/** An inclusive range of IPv4 addresses, as numbers (0 … 2^32 - 1). */
export interface PoolRange {
  first: number;
  last: number;
}

export class InvalidAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidAddressError";
  }
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** "172.30.0.11" → 2887647243; throws InvalidAddressError on anything but four decimal octets. */
export function parseIPv4(text: string): number {
  const parts = text.trim().split(".");
  if (parts.length !== 4) throw new InvalidAddressError(`"${text}" is not an IPv4 address (expected four dot-separated octets)`);
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part) || Number(part) > 255) {
      throw new InvalidAddressError(`"${text}" is not an IPv4 address ("${part}" is not an octet 0-255)`);
    }
    value = value * 256 + Number(part);
  }
  return value;
}

/** 2887647243 → "172.30.0.11". */
export function formatIPv4(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new InvalidAddressError(`${value} is not an IPv4 address number (0-4294967295)`);
  }
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

/** "172.30.0.11-172.30.0.254" (spaces around the dash allowed) → {first, last}; first ≤ last. */
export function parseRange(text: string): PoolRange {
  const parts = text.split("-");
  if (parts.length !== 2 || !parts[0]!.trim() || !parts[1]!.trim()) {
    throw new InvalidAddressError(`"${text}" is not an address range (expected "FIRST-LAST", e.g. "${DEFAULT_BRIDGE_RANGE}")`);
  }
  const first = parseIPv4(parts[0]!);
  const last = parseIPv4(parts[1]!);
  if (first > last) throw new InvalidAddressError(`"${text}" is not an address range (the first address is after the last)`);
  return { first, last };
}

export function formatRange(range: PoolRange): string {
  return `${formatIPv4(range.first)}-${formatIPv4(range.last)}`;
}

/** How many addresses the range holds. */
export function rangeSize(range: PoolRange): number {
  return range.last - range.first + 1;
}

export function inRange(range: PoolRange, value: number): boolean {
  return value >= range.first && value <= range.last;
}
