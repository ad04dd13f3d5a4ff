import { randomBytes } from "node:crypto";
import type { Db } from "../../shared/db";
import { uniqueViolation } from "../../shared/db/errors";
import type { Domain } from "../../shared/db/schema";
import type { Logger } from "../../shared/logger";
import { AppError, invalid } from "../core/errors";
import { type Actor, audit, type Person } from "../audit/record";
import { enforceQuota } from "../quotas/limits";
import type { Services } from "../services";
import { forgetSite } from "../ingress/resolve";
import { ownHostOf } from "../ingress/names";
import { txtLookup } from "./dns";
import { lostMail } from "./mails";
import { challengeName, challengeValue } from "./present";
import {
  appIdOfUser,
  countDomains,
  deleteDomain,
  type DomainRow,
  domainOfUser,
  domainsOfUser,
  insertDomain,
  lockDomainName,
  loseOtherClaims,
  setDomain,
  verifiedHolder,
} from "./queries";
import { normalizeDomain } from "./schemas";

/** How long a claim may wait for its record before it expires. */
export const CLAIM_LIFETIME_MS = 72 * 60 * 60 * 1000;
/** The background check's first wait; each miss doubles it, up to MAX_BACKOFF_MS. */
export const FIRST_BACKOFF_MS = 60 * 1000;
export const MAX_BACKOFF_MS = 60 * 60 * 1000;

export const backoffMs = (attempts: number) => Math.min(FIRST_BACKOFF_MS * 2 ** Math.min(attempts, 30), MAX_BACKOFF_MS);

const taken = (name: string) =>
  new AppError("conflict", `domain: ${name} is held by another KWS account that proved it`, { issues: [{ path: "domain", message: "is taken" }] });
const noSuchDomain = (name: string) => new AppError("not_found", `you have no domain named ${name}`);
const noSuchApp = (name: string) => new AppError("not_found", `app: you have no app named ${name}`, { issues: [{ path: "app", message: "is not one of your apps" }] });

export function listDomains(s: Services, userId: string): Promise<DomainRow[]> {
  return domainsOfUser(s.db, userId);
}

async function appId(db: Db, userId: string, app: string): Promise<string> {
  const id = await appIdOfUser(db, userId, app);
  if (!id) throw noSuchApp(app);
  return id;
}

/**
 * Claims `domain` for one of the person's apps: pending until its TXT record is found. Someone
 * else's pending claim does not stop it (the one who proves the name wins); a held one does.
 */
export async function createDomain(s: Services, who: Person, body: { domain: string; app: string }): Promise<DomainRow> {
  const { userId } = who;
  const name = body.domain;
  const base = ownHostOf(s.config, name);
  if (base) throw invalid("domain", `must not be ${base} or under it: those names are KWS's own`);
  try {
    const row = await s.db.transaction(async (tx) => {
      await enforceQuota(tx, s.config, userId, "domains", () => countDomains(tx, userId));
      const id = await appId(tx, userId, body.app);
      if (await domainOfUser(tx, userId, name)) throw new AppError("conflict", `domain: you have already added ${name}`, { issues: [{ path: "domain", message: "is already yours" }] });
      await lockDomainName(tx, name);
      if (await verifiedHolder(tx, name)) throw taken(name);
      const token = randomBytes(18).toString("base64url");
      const claim = await insertDomain(tx, { userId, appId: id, name, token, nextCheckAt: new Date(Date.now() + FIRST_BACKOFF_MS) });
      await audit(tx, who, { action: "domain.claim", target: { type: "domain", id: name }, detail: { app: body.app } });
      return claim;
    });
    return { ...row, app: body.app };
  } catch (err) {
    if (uniqueViolation(err) === "domains_user_name_key") throw new AppError("conflict", `domain: you have already added ${name}`);
    throw err;
  }
}

/** The person's claim of `raw` (any spelling of the name); 404 when they have none. */
async function ownDomain(s: Services, userId: string, raw: string): Promise<DomainRow> {
  const name = normalizeDomain(raw);
  const row = typeof name === "string" ? await domainOfUser(s.db, userId, name) : undefined;
  if (!row) throw noSuchDomain(raw);
  return row;
}

export async function changeDomain(s: Services, who: Person, raw: string, body: { app: string }): Promise<DomainRow> {
  const row = await ownDomain(s, who.userId, raw);
  const updated = await s.db.transaction(async (tx) => {
    const changed = await setDomain(tx, row.id, { appId: await appId(tx, who.userId, body.app) });
    await audit(tx, who, { action: "domain.change", target: { type: "domain", id: row.name }, detail: { app: body.app } });
    return changed;
  });
  forgetSite(s.db, row.name);
  return { ...updated, app: body.app };
}

export async function removeDomain(s: Services, who: Person, raw: string): Promise<void> {
  const row = await ownDomain(s, who.userId, raw);
  await s.db.transaction(async (tx) => {
    await deleteDomain(tx, row.id);
    await audit(tx, who, { action: "domain.remove", target: { type: "domain", id: row.name } });
  });
  forgetSite(s.db, row.name);
}

/**
 * Looks the claim's TXT record up: found, the claim holds the name from now on (other claims of it
 * are lost, and their people told); not found, answers what DNS had instead (the message of a 409).
 * `taken`: someone else proved the name while this claim was open; the claim is lost.
 */
export async function checkClaim(s: Services, claim: Domain, log: Logger, actor: Actor): Promise<{ verified: Domain } | { missing: string } | { taken: true }> {
  const record = challengeName(claim.name);
  const wanted = challengeValue(claim.token);
  const answer = await txtLookup(s.config)(record);
  if (!answer.values.includes(wanted)) {
    const found = answer.failure ?? (answer.values.length ? `found ${answer.values.map((v) => JSON.stringify(v)).join(", ")}` : "found no TXT record");
    return { missing: `${claim.name} is not verified yet: the TXT record ${record} must hold "${wanted}"; ${found}` };
  }
  const outcome = await s.db.transaction(async (tx) => {
    await lockDomainName(tx, claim.name);
    // Someone proved it since this claim was made (both records in DNS): theirs it stays, as a
    // held name is unique.
    const holder = await verifiedHolder(tx, claim.name);
    const target = { type: "domain", id: claim.name };
    if (holder && holder.id !== claim.id) {
      await setDomain(tx, claim.id, { status: "lost" });
      await audit(tx, actor, { action: "domain.verify", target, subjectUserId: claim.userId, outcome: "denied", detail: { status: "lost" } });
      return undefined;
    }
    const lost = await loseOtherClaims(tx, claim.name, claim.id);
    const verified = await setDomain(tx, claim.id, { status: "verified", verifiedAt: new Date() });
    await audit(tx, actor, { action: "domain.verify", target, subjectUserId: claim.userId, detail: { lostClaims: lost.length } });
    return { verified, lost };
  });
  if (!outcome) return { taken: true };
  const { verified, lost } = outcome;
  forgetSite(s.db, claim.name);
  log.info("domain verified", { domain: claim.name, userId: claim.userId, lostClaims: lost.length });
  for (const person of lost) {
    await s.mailer.send(lostMail(person, claim.name)).catch((err: unknown) => log.error("lost-domain mail failed", { err, domain: claim.name }));
  }
  return { verified };
}

/** The person asks to check their claim now: 200 verified, or 409 `unproven` with what DNS had. */
export async function verifyDomain(s: Services, who: Person, raw: string, log: Logger): Promise<DomainRow> {
  const row = await ownDomain(s, who.userId, raw);
  if (row.status === "verified") return row;
  const result = await checkClaim(s, row, log, who);
  if ("missing" in result) throw new AppError("unproven", result.missing);
  if ("taken" in result) throw taken(row.name);
  return { ...result.verified, app: row.app };
}
