import { isIP } from "node:net";
import { domainToASCII } from "node:url";
import { z } from "@hono/zod-openapi";
import { domainStates } from "../../shared/db/schema";
import { AppName } from "../apps/schemas";
import { DNS_LABEL, DNS_LABEL_RULE } from "../ingress/names";

/**
 * A host name as people type it → its lower-case ASCII (IDNA) form, or the rule it breaks. One
 * trailing dot (the DNS root) is dropped; ASCII other than letters, digits, '-' and '.' is refused
 * before IDNA, which would otherwise read "a/b.com" as the URL host "a".
 */
export function normalizeDomain(raw: string): string | { rule: string } {
  const input = raw.trim().replace(/\.$/, "");
  if (input === "") return { rule: "must be a host name, e.g. shop.example.org" };
  if (input.includes("*")) return { rule: "must not be a wildcard: name one host" };
  if (isIP(input.replace(/^\[(.*)\]$/, "$1"))) return { rule: "must be a host name, not an IP address" };
  // NFKC first: IDNA maps full-width '／' or '：' to their ASCII forms.
  if (/[\x00-\x2c\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]/.test(input.normalize("NFKC"))) return { rule: "may hold only letters, digits, '-' and '.'" };
  const name = domainToASCII(input);
  if (name === "") return { rule: "is not a valid (international) domain name" };
  if (isIP(name)) return { rule: "must be a host name, not an IP address" };
  if (name.length > 253) return { rule: "must be at most 253 characters (in its ASCII form)" };
  const labels = name.split(".");
  if (labels.length < 2) return { rule: "must have at least two labels, e.g. example.org" };
  if (!labels.every((l) => DNS_LABEL.test(l))) return { rule: `each label ${DNS_LABEL_RULE}` };
  if (/^\d+$/.test(labels.at(-1)!)) return { rule: "must not end in a numeric label" };
  return name;
}

export const DomainName = z
  .string({ message: "must be a string" })
  .transform((v, ctx) => {
    const name = normalizeDomain(v);
    if (typeof name === "string") return name;
    ctx.addIssue({ code: "custom", message: name.rule });
    return z.NEVER;
  })
  .openapi({ type: "string", example: "shop.example.org" });

const app = AppName.openapi({ description: "The name of one of your apps", example: "shop" });

export const CreateDomainBody = z.object({ domain: DomainName, app }).openapi("CreateDomain");
export const UpdateDomainBody = z.object({ app }).openapi("UpdateDomain");

/** Any string: a name that is not a valid domain is simply none of the person's (404). */
export const DomainParam = z.object({ domain: z.string() });

export const DomainSchema = z
  .object({
    name: z.string().openapi({ example: "shop.example.org" }),
    app: z.string(),
    status: z.enum(domainStates).openapi({ description: "pending until the TXT record is found; lost: someone else proved it first; expired: not proven within 72 h" }),
    verification: z.object({
      type: z.literal("TXT"),
      name: z.string().openapi({ example: "_kws-challenge.shop.example.org" }),
      value: z.string().openapi({ example: "kws-verify=3q2-7w..." }),
    }),
    createdAt: z.string(),
    verifiedAt: z.string().nullable(),
  })
  .openapi("Domain");

export const DomainResponse = z.object({ domain: DomainSchema }).openapi("DomainResponse");
export const DomainListSchema = z.object({ domains: z.array(DomainSchema) }).openapi("DomainList");

export type DomainJson = z.infer<typeof DomainSchema>;
