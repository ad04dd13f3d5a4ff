import type { z } from "@hono/zod-openapi";
import type { PgServiceConfig } from "../../shared/config";
import type { PgDatabaseListing, PgUserListing } from "./queries";
import type { PgDatabaseSchema, PgUserSchema } from "./schemas";

/** Where to connect: beside every answer about database users and databases. */
export const presentConnection = (service: PgServiceConfig) => ({ host: service.publicHost, port: service.publicPort });

export const presentPgUser = (u: PgUserListing): z.infer<typeof PgUserSchema> => ({ ...u, createdAt: u.createdAt.toISOString() });

export const presentPgDatabase = (d: PgDatabaseListing): z.infer<typeof PgDatabaseSchema> => ({ ...d, createdAt: d.createdAt.toISOString() });
