import type { Domain } from "../../shared/db/schema";
import type { DomainJson } from "./schemas";

/** Where the proof of a claim goes: a TXT record at this name… */
export const challengeName = (domain: string) => `_kws-challenge.${domain}`;
/** …holding this value. */
export const challengeValue = (token: string) => `kws-verify=${token}`;

export function presentDomain(d: Domain & { app: string }): DomainJson {
  return {
    name: d.name,
    app: d.app,
    status: d.status,
    verification: { type: "TXT", name: challengeName(d.name), value: challengeValue(d.token) },
    createdAt: d.createdAt.toISOString(),
    verifiedAt: d.verifiedAt?.toISOString() ?? null,
  };
}
