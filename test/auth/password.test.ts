import assert from "node:assert/strict";
import { pbkdf2Sync } from "node:crypto";
import { test } from "node:test";
import { fromBase64Url } from "../../shared/crypto/encoding";
import { hashPassword, MIN_ITERATIONS, verifyPassword } from "../../shared/crypto/password";

test("the stored string names scheme, cost and salt, and verifies only the right password", async () => {
  const stored = await hashPassword("Correct-Horse-9");
  assert.match(stored, new RegExp(`^pbkdf2-sha256-chain\\$${MIN_ITERATIONS}\\$[A-Za-z0-9_-]{22}\\$[A-Za-z0-9_-]{43}$`));
  assert.equal(await verifyPassword("Correct-Horse-9", stored), true);
  assert.equal(await verifyPassword("correct-Horse-9", stored), false);
  assert.notEqual(await hashPassword("Correct-Horse-9"), stored, "salted");
  assert.equal(await verifyPassword("x", "md5$1$abc$def"), false, "unknown schemes never verify");
});

test("the chain does exactly the stated PBKDF2-SHA256 work: 6 links of 100 000 iterations", async () => {
  const stored = await hashPassword("pässwörd ✓", MIN_ITERATIONS);
  const [, , salt, hash] = stored.split("$");
  let link: Buffer = Buffer.from("pässwörd ✓", "utf8");
  for (let i = 0; i < 6; i++) link = pbkdf2Sync(link, fromBase64Url(salt!), 100_000, 32, "sha256");
  assert.deepEqual(new Uint8Array(link), fromBase64Url(hash!));
});
