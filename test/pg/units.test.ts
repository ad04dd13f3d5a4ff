/** The pieces of managed PostgreSQL that need no cluster: SCRAM verifier, secret box, key file, config, names. */
import assert from "node:assert/strict";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { nodeSecretBox } from "../../functions/node-services";
import { CreatePgUserBody, PgName } from "../../functions/pg/schemas";
import { generatePassword, scramVerifier } from "../../functions/pg/scram";
import { parseConfig } from "../../shared/config";
import { createSecretBox, decodeSecretKey, SecretBoxError } from "../../shared/crypto/secret-box";
import { createLogger } from "../../shared/logger";

test("the SCRAM-SHA-256 verifier matches an independent computation with node:crypto", async () => {
  const salt = Uint8Array.from({ length: 16 }, (_, i) => i * 7);
  const password = "p@ss w0rd'\";\\$$";
  const verifier = await scramVerifier(password, { salt });
  const salted = pbkdf2Sync(password, salt, 4096, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest("base64");
  const serverKey = createHmac("sha256", salted).update("Server Key").digest("base64");
  assert.equal(verifier, `SCRAM-SHA-256$4096:${Buffer.from(salt).toString("base64")}$${storedKey}:${serverKey}`);
  assert.ok(!verifier.includes(password));
  assert.notEqual(await scramVerifier(password), await scramVerifier(password), "a random salt each time");
});

test("generated passwords: 32 characters of [A-Za-z0-9], all different", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const p = generatePassword();
    assert.match(p, /^[A-Za-z0-9]{32}$/);
    seen.add(p);
  }
  assert.equal(seen.size, 200);
});

test("secret box: opens what it sealed, with the same key and context only", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const box = createSecretBox(key);
  const secret = "every printable: " + Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("") + " ünïcode 🔑";
  const sealed = await box.seal(secret, "pg_user:alice");
  assert.match(sealed, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
  assert.ok(!sealed.includes("printable"));
  assert.equal(await box.open(sealed, "pg_user:alice"), secret);
  assert.notEqual(await box.seal(secret, "pg_user:alice"), sealed, "a fresh IV each time");
  await assert.rejects(box.open(sealed, "pg_user:bob"), SecretBoxError, "bound to its context");
  await assert.rejects(createSecretBox(crypto.getRandomValues(new Uint8Array(32))).open(sealed, "pg_user:alice"), SecretBoxError);
  const [v, iv, data] = sealed.split(".");
  const flipped = `${v}.${iv}.${data!.slice(0, -2)}${data!.at(-2) === "A" ? "B" : "A"}${data!.at(-1)}`;
  await assert.rejects(box.open(flipped, "pg_user:alice"), SecretBoxError, "tampering is detected");
  await assert.rejects(box.open("not sealed", "pg_user:alice"), SecretBoxError);
  assert.throws(() => decodeSecretKey(Buffer.alloc(31).toString("base64")), SecretBoxError);
  assert.equal(decodeSecretKey(Buffer.alloc(32, 1).toString("base64url")).length, 32);
});

test("without KWS_SECRET_KEY: a 0600 key file made at first use and reused; production refuses to start", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kws-key-"));
  try {
    const lines: string[] = [];
    const logger = createLogger({}, { write: (l) => lines.push(l) });
    const config = parseConfig({ NODE_ENV: "development", KWS_DATA_DIR: join(dir, "data") });
    const box = nodeSecretBox(config, logger);
    assert.throws(() => statSync(join(dir, "data", "secret.key")), "nothing written before first use");
    const sealed = await box.seal("hello", "ctx");
    const file = join(dir, "data", "secret.key");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(decodeSecretKey(readFileSync(file, "utf8")).length, 32);
    assert.ok(lines.some((l) => JSON.parse(l).level === "warn" && l.includes("KWS_SECRET_KEY is not set")), "a warning says so");
    assert.equal(await nodeSecretBox(config, logger).open(sealed, "ctx"), "hello", "the next process reads the same key");

    chmodSync(file, 0o644);
    assert.equal(await nodeSecretBox(config, logger).open(sealed, "ctx"), "hello");
    assert.equal(statSync(file).mode & 0o777, 0o600, "a too-open key file is closed");

    assert.throws(() => nodeSecretBox(parseConfig({ NODE_ENV: "production" }), logger), /KWS_SECRET_KEY is required when NODE_ENV=production/);
    const key = Buffer.alloc(32, 9).toString("base64");
    const prod = nodeSecretBox(parseConfig({ NODE_ENV: "production", KWS_SECRET_KEY: key }), logger);
    assert.equal(await prod.open(await prod.seal("x", "c"), "c"), "x");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("config: PG_SERVICE_URL with its public host and port; KWS_SECRET_KEY checked", () => {
  assert.equal(parseConfig({}).pgService, undefined);
  assert.deepEqual(parseConfig({ PG_SERVICE_URL: "postgres://kws_admin:s3cret@db.internal:6543/postgres" }).pgService, {
    url: "postgres://kws_admin:s3cret@db.internal:6543/postgres",
    publicHost: "db.internal",
    publicPort: 6543,
  });
  assert.deepEqual(
    parseConfig({ PG_SERVICE_URL: "postgresql://a:b@10.0.0.5/postgres", PG_SERVICE_PUBLIC_HOST: "postgres.kws.services", PG_SERVICE_PUBLIC_PORT: "5432" }).pgService,
    { url: "postgresql://a:b@10.0.0.5/postgres", publicHost: "postgres.kws.services", publicPort: 5432 },
  );
  assert.equal(parseConfig({ PG_SERVICE_URL: "postgres://a@h/db" }).pgService?.publicPort, 5432);
  for (const [env, variable] of [
    [{ PG_SERVICE_URL: "mysql://a@h/db" }, "PG_SERVICE_URL"],
    [{ PG_SERVICE_URL: "not a url" }, "PG_SERVICE_URL"],
    [{ PG_SERVICE_URL: "postgres://a@h/db", PG_SERVICE_PUBLIC_PORT: "70000" }, "PG_SERVICE_PUBLIC_PORT"],
    [{ PG_SERVICE_URL: "postgres://a@h/db", PG_SERVICE_PUBLIC_HOST: "a b;c" }, "PG_SERVICE_PUBLIC_HOST"],
    [{ KWS_SECRET_KEY: "short" }, "KWS_SECRET_KEY"],
    [{ KWS_SECRET_KEY: Buffer.alloc(33).toString("base64") }, "KWS_SECRET_KEY"],
  ] as const) {
    assert.throws(() => parseConfig(env), (err: Error) => err.message.includes(`${variable}:`), JSON.stringify(env));
  }
  const key = Buffer.alloc(32, 3).toString("base64");
  assert.equal(parseConfig({ KWS_SECRET_KEY: key }).secretKey, key);
  assert.equal(parseConfig({ NODE_ENV: "production" }).secretKey, undefined, "parseConfig stays pure; the Node side enforces production");
});

test("names: plain identifiers, 3-63 characters, not reserved", () => {
  for (const ok of ["abc", "a_1", "app_db_2024", "a".repeat(63)]) assert.ok(PgName.safeParse(ok).success, ok);
  for (const bad of ["ab", "a".repeat(64), "Abc", "1abc", "_abc", "a-b", "a b", "a'b", 'a"b', "a;b", "a\\b", "a$b", "ünï", "pg_x", "postgres", "public", "template0", "template1", "none", "current_user", "session_user"]) {
    assert.ok(!PgName.safeParse(bad).success, bad);
  }
  assert.ok(CreatePgUserBody.safeParse({ name: "abc", password: " ~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./" }).success);
  assert.ok(!CreatePgUserBody.safeParse({ name: "abc", password: "ünïcode-password" }).success);
});
