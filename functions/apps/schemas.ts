import { z } from "@hono/zod-openapi";
import { appAccessLevels } from "../../shared/db/schema";
import { DNS_LABEL, DNS_LABEL_RULE, RESERVED_LABELS } from "../ingress/names";


const port = z.coerce
  .number({ message: "must be a whole number" })
  .int("must be a whole number")
  .min(1, "must be at least 1")
  .max(65535, "must be at most 65535")
  .openapi({ example: 3000 });

const access = z
  .enum(appAccessLevels, { message: 'must be "owner", "authenticated" or "public"' })
  .openapi({ description: "owner: only you; authenticated: any verified KWS account; public: anyone" });

export const AppName = z
  .string({ message: "must be a string" })
  .trim()
  .regex(DNS_LABEL, DNS_LABEL_RULE)
  .refine((v) => !RESERVED_LABELS.has(v), "is reserved by KWS; choose another")
  .openapi({ example: "shop" });

export const CreateAppBody = z.object({ name: AppName, port, access: access.default("owner") }).openapi("CreateApp");

export const UpdateAppBody = z
  .object({ port: port.optional(), access: access.optional() })
  .refine((b) => b.port !== undefined || b.access !== undefined, { message: "give port or access", path: ["body"] })
  .openapi("UpdateApp");

export const AppNameParam = z.object({ name: z.string().regex(DNS_LABEL, DNS_LABEL_RULE) });

export const AppSchema = z
  .object({
    name: z.string(),
    port: z.number().int(),
    access: z.enum(appAccessLevels),
    url: z.string().openapi({ example: "https://shop.kws.app/" }),
    createdAt: z.string(),
  })
  .openapi("App");

export const AppResponse = z.object({ app: AppSchema }).openapi("AppResponse");
export const AppListSchema = z.object({ apps: z.array(AppSchema) }).openapi("AppList");

export type AppJson = z.infer<typeof AppSchema>;
