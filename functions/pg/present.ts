import type { z } from "@hono/zod-openapi";
import type { PgServiceConfig } from "../../shared/config";
import type { PgDatabaseListing, PgUserListing } from "./queries";
import type { PgDatabaseSchema, PgUserSchema } from "./schemas";
import { connectionUri, type CreatedDatabase, type CreatedUser } from "./service";

/** Where to connect: beside every answer about database users and databases. */
export const presentConnection = (service: PgServiceConfig) => ({ host: service.publicHost, port: service.publicPort });

export const presentPgUser = (u: PgUserListing): z.infer<typeof PgUserSchema> => ({ ...u, createdAt: u.createdAt.toISOString() });

export const presentPgDatabase = (d: PgDatabaseListing): z.infer<typeof PgDatabaseSchema> => ({ ...d, createdAt: d.createdAt.toISOString() });

export const presentUserList = ({ service, users }: { service: PgServiceConfig; users: PgUserListing[] }) => ({
  ...presentConnection(service),
  users: users.map(presentPgUser),
});

export const presentDatabaseList = ({ service, databases }: { service: PgServiceConfig; databases: PgDatabaseListing[] }) => ({
  ...presentConnection(service),
  databases: databases.map(presentPgDatabase),
});

/** A new database user with its password and connection string: the only answer that shows them unasked. */
export const presentCreatedUser = ({ service, user, password }: CreatedUser) => ({
  ...presentConnection(service),
  user: presentPgUser(user),
  password,
  connectionUri: connectionUri(service, user.name, password),
});

/** A new database with the connection string of its owner. */
export const presentCreatedDatabase = ({ service, database, password }: CreatedDatabase) => ({
  ...presentConnection(service),
  database: presentPgDatabase(database),
  connectionUri: connectionUri(service, database.owner, password, database.name),
});
