import type { Logger } from "../../shared/logger";
import { Periodic } from "../core/periodic";
import { audit, systemActor } from "../audit/record";
import type { Services } from "../services";
import { dueClaims, setDomain } from "./queries";
import { backoffMs, checkClaim, CLAIM_LIFETIME_MS } from "./service";

export interface DomainCheckerOptions {
  services: Services;
  logger: Logger;
  /** How often due claims are looked for (each claim has its own backoff on top). */
  intervalMs?: number;
  /** The clock: tests move it on to reach backoffs and the 72 h lifetime. */
  now?: () => number;
}

// Claims checked in one pass: a DNS lookup each, so a pass stays short; the rest wait for the next.
const BATCH = 50;

/**
 * The control plane's background check of pending domains: each due claim's TXT record is looked
 * up (waits from 1 min, doubling to 1 h); a claim still unproven 72 h after it was made expires.
 */
export class DomainChecker extends Periodic {
  private readonly now: () => number;

  constructor(private readonly o: DomainCheckerOptions) {
    super({ what: "domain check", intervalMs: o.intervalMs ?? 30_000, logger: o.logger });
    this.now = o.now ?? Date.now;
  }

  protected async work() {
    const { services: s, logger } = this.o;
    const now = this.now();
    for (const claim of await dueClaims(s.db, new Date(now), BATCH)) {
      if (claim.createdAt.getTime() + CLAIM_LIFETIME_MS <= now) {
        await s.db.transaction(async (tx) => {
          await setDomain(tx, claim.id, { status: "expired" });
          await audit(tx, systemActor(), { action: "domain.expire", target: { type: "domain", id: claim.name }, subjectUserId: claim.userId });
        });
        logger.info("domain claim expired", { domain: claim.name, userId: claim.userId });
        continue;
      }
      const result = await checkClaim(s, claim, logger, systemActor()).catch((err: unknown) => {
        logger.warn("domain check of one claim failed", { domain: claim.name, err });
        return undefined;
      });
      if (result && "missing" in result) {
        const attempts = claim.checkAttempts + 1;
        await setDomain(s.db, claim.id, { checkAttempts: attempts, nextCheckAt: new Date(now + backoffMs(attempts)) });
        logger.debug("domain not proven yet", { domain: claim.name, attempts });
      }
    }
  }
}
