import { Resolver } from "node:dns/promises";
import type { Config } from "../../shared/config";

/** What a TXT lookup found: the records' values (chunks joined), or why there was no answer. */
export interface TxtAnswer {
  values: string[];
  /** Set when the resolvers gave no answer (a timeout, a refusal), as opposed to "nothing there". */
  failure?: string;
}

/** The TXT lookup of a claim check, through config.dnsServers or the system's resolvers. */
export type LookupTxt = (name: string) => Promise<TxtAnswer>;

// "No such name" and "no TXT at that name" are plain answers: nothing is there yet.
const EMPTY = new Set(["ENOTFOUND", "ENODATA"]);

export function txtLookup(config: Pick<Config, "dnsServers">): LookupTxt {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  if (config.dnsServers) resolver.setServers(config.dnsServers);
  return async (name) => {
    try {
      return { values: (await resolver.resolveTxt(name)).map((chunks) => chunks.join("")) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      return EMPTY.has(code) ? { values: [] } : { values: [], failure: `the lookup failed (${code})` };
    }
  };
}
