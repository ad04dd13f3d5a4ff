import { and, asc, count, eq } from "drizzle-orm";
import type { Db } from "../../shared/db";
import { sshKeys, type SshKey } from "../../shared/db/schema";

export function keysOfUser(db: Db, userId: string): Promise<SshKey[]> {
  return db.select().from(sshKeys).where(eq(sshKeys.userId, userId)).orderBy(asc(sshKeys.createdAt));
}

export async function countKeys(db: Db, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(sshKeys).where(eq(sshKeys.userId, userId));
  return row?.n ?? 0;
}

export async function keyByFingerprint(db: Db, userId: string, fingerprint: string): Promise<SshKey | undefined> {
  const [row] = await db.select().from(sshKeys).where(and(eq(sshKeys.userId, userId), eq(sshKeys.fingerprint, fingerprint)));
  return row;
}

export async function insertKey(db: Db, values: typeof sshKeys.$inferInsert): Promise<SshKey> {
  const [row] = await db.insert(sshKeys).values(values).returning();
  return row!;
}

export async function deleteKey(db: Db, userId: string, id: string): Promise<boolean> {
  const rows = await db.delete(sshKeys).where(and(eq(sshKeys.userId, userId), eq(sshKeys.id, id))).returning({ id: sshKeys.id });
  return rows.length > 0;
}
