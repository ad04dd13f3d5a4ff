/**
 * Address pools: the IPv4 helpers, and allocation in the database (lowest free first, reuse,
 * one address per holder, exhaustion), with the concurrency tests on a real PostgreSQL
 * ($DATABASE_URL or postgres://root@127.0.0.1:5432/postgres) through a pool of 10 connections.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Database, DatabaseHandle } from "../../shared/db";
import { migrateDatabase } from "../../shared/db/migrate";
import { addressLeases } from "../../shared/db/schema";
import { insertHost } from "../../functions/hosts/store";
import { formatIPv4, InvalidAddressError, parseIPv4, parseRange, rangeSize } from "../../shared/addresses/pool";
import { AddressHeldElsewhereError, allocateAddress, leasesOf, PoolExhaustedError, releaseAddress } from "../../functions/core/addresses/store";
import { freshDatabase, freshPostgresDatabase } from "../support/database";

const adminUrl = process.env.DATABASE_URL || "postgres://root@127.0.0.1:5432/postgres";

let hostCount = 0;
async function newHost(db: Database): Promise<string> {
  const host = await insertHost(db, {
    name: `host-${++hostCount}-${Math.random().toString(36).slice(2, 8)}`,
    publicAddress: null,
    enrollmentTokenHash: null,
    enrollmentExpiresAt: null,
  });
  return host.id;
}

describe("IPv4 helpers", () => {
  test("parse and format are inverse", () => {
    assert.equal(parseIPv4("172.30.0.11"), 0xac1e000b);
    assert.equal(formatIPv4(0xac1e000b), "172.30.0.11");
    assert.equal(parseIPv4("0.0.0.0"), 0);
    assert.equal(parseIPv4("255.255.255.255"), 0xffffffff);
    assert.equal(formatIPv4(0xffffffff), "255.255.255.255");
    assert.equal(formatIPv4(parseIPv4(" 10.1.2.3 ")), "10.1.2.3");
  });

  test("bad addresses are refused with a clear error", () => {
    for (const bad of ["", "1.2.3", "1.2.3.4.5", "1.2.3.256", "1.2.3.-1", "01.2.3.4", "a.b.c.d", "1..2.3", "1.2.3.4/24"]) {
      assert.throws(() => parseIPv4(bad), InvalidAddressError, bad);
    }
    assert.throws(() => formatIPv4(-1), InvalidAddressError);
    assert.throws(() => formatIPv4(2 ** 32), InvalidAddressError);
    assert.throws(() => formatIPv4(1.5), InvalidAddressError);
  });

  test("ranges", () => {
    const range = parseRange("172.30.0.11-172.30.0.254");
    assert.deepEqual(range, { first: parseIPv4("172.30.0.11"), last: parseIPv4("172.30.0.254") });
    assert.equal(rangeSize(range), 244);
    assert.deepEqual(parseRange("10.0.0.1 - 10.0.0.1"), { first: parseIPv4("10.0.0.1"), last: parseIPv4("10.0.0.1") });
    assert.throws(() => parseRange("10.0.0.1"), /expected "FIRST-LAST"/);
    assert.throws(() => parseRange("10.0.0.1-10.0.0.2-10.0.0.3"), /expected "FIRST-LAST"/);
    assert.throws(() => parseRange("10.0.0.9-10.0.0.1"), /first address is after the last/);
    assert.throws(() => parseRange("10.0.0.1-10.0.0.300"), /"300" is not an octet/);
  });
});

describe("allocation", () => {
  let fresh: Awaited<ReturnType<typeof freshDatabase>>;
  let db: Database;
  before(async () => {
    fresh = await freshDatabase();
    await migrateDatabase(fresh.handle);
    db = fresh.handle.db;
  });
  after(() => fresh.drop());

  const small = parseRange("172.30.0.11-172.30.0.13");

  test("lowest free first, reuse after release, idempotent per holder", async () => {
    const hostId = await newHost(db);
    const alloc = (holder: string) => allocateAddress(db, { hostId, pool: "bridge", range: small, holder });
    assert.equal(await alloc("instance:a"), "172.30.0.11");
    assert.equal(await alloc("instance:b"), "172.30.0.12");
    assert.equal(await alloc("instance:a"), "172.30.0.11", "same holder, same address");
    assert.equal(await alloc("instance:c"), "172.30.0.13");

    assert.equal(await releaseAddress(db, { pool: "bridge", holder: "instance:b" }), true);
    assert.equal(await releaseAddress(db, { pool: "bridge", holder: "instance:b" }), false);
    assert.equal(await alloc("instance:d"), "172.30.0.12", "the released address comes back first");

    const leases = await leasesOf(db, hostId, "bridge");
    assert.deepEqual(
      leases.map((l) => [l.address, l.addressNum, l.holder]),
      [
        ["172.30.0.11", parseIPv4("172.30.0.11"), "instance:a"],
        ["172.30.0.12", parseIPv4("172.30.0.12"), "instance:d"],
        ["172.30.0.13", parseIPv4("172.30.0.13"), "instance:c"],
      ],
    );
  });

  test("a full pool throws PoolExhaustedError and inserts nothing", async () => {
    const hostId = await newHost(db);
    for (const h of ["x", "y", "z"]) await allocateAddress(db, { hostId, pool: "bridge", range: small, holder: `instance:${h}` });
    await assert.rejects(allocateAddress(db, { hostId, pool: "bridge", range: small, holder: "instance:w" }), (err) => {
      assert.ok(err instanceof PoolExhaustedError);
      assert.equal(err.hostId, hostId);
      assert.equal(err.pool, "bridge");
      assert.match(err.message, /172\.30\.0\.11-172\.30\.0\.13/);
      return true;
    });
    assert.equal((await leasesOf(db, hostId, "bridge")).length, 3);
    const all = await db.select().from(addressLeases);
    assert.ok(!all.some((l) => l.holder === "instance:w"));
  });

  test("hosts and pools are independent", async () => {
    const a = await newHost(db);
    const b = await newHost(db);
    const range = parseRange("10.8.0.2-10.8.0.10");
    assert.equal(await allocateAddress(db, { hostId: a, pool: "wireguard", range, holder: "device:1" }), "10.8.0.2");
    assert.equal(await allocateAddress(db, { hostId: a, pool: "wireguard", range, holder: "device:2" }), "10.8.0.3");
    assert.equal(await allocateAddress(db, { hostId: b, pool: "wireguard", range, holder: "device:3" }), "10.8.0.2");
    assert.equal(await allocateAddress(db, { hostId: b, pool: "wireguard", range, holder: "device:4" }), "10.8.0.3");
    // The bridge pool of the same host starts from its own range.
    assert.equal(await allocateAddress(db, { hostId: a, pool: "bridge", range: small, holder: "device:1" }), "172.30.0.11");

    assert.equal(await releaseAddress(db, { pool: "wireguard", holder: "device:1" }), true);
    assert.equal(await allocateAddress(db, { hostId: b, pool: "wireguard", range, holder: "device:5" }), "10.8.0.4", "A's release frees nothing on B");
    assert.equal(await allocateAddress(db, { hostId: a, pool: "wireguard", range, holder: "device:6" }), "10.8.0.2");
    assert.deepEqual(
      (await leasesOf(db, a, "bridge")).map((l) => l.holder),
      ["device:1"],
      "releasing the wireguard address kept the bridge one",
    );

    await assert.rejects(
      allocateAddress(db, { hostId: b, pool: "wireguard", range, holder: "device:2" }),
      AddressHeldElsewhereError,
    );
  });

  test("works inside a caller's transaction, and rolls back with it", async () => {
    const hostId = await newHost(db);
    const range = parseRange("192.168.5.1-192.168.5.5");
    await assert.rejects(
      db.transaction(async (tx) => {
        assert.equal(await allocateAddress(tx, { hostId, pool: "bridge", range, holder: "instance:t1" }), "192.168.5.1");
        assert.equal(await allocateAddress(tx, { hostId, pool: "bridge", range, holder: "instance:t2" }), "192.168.5.2");
        throw new Error("roll back");
      }),
      /roll back/,
    );
    assert.deepEqual(await leasesOf(db, hostId, "bridge"), []);
    await db.transaction(async (tx) => {
      assert.equal(await allocateAddress(tx, { hostId, pool: "bridge", range, holder: "instance:t3" }), "192.168.5.1");
    });
    assert.equal((await leasesOf(db, hostId, "bridge")).length, 1);
  });

  test("deleting the host frees its leases", async () => {
    const hostId = await newHost(db);
    await allocateAddress(db, { hostId, pool: "bridge", range: small, holder: "instance:gone" });
    const { deleteHost } = await import("../../functions/hosts/store");
    assert.equal(await deleteHost(db, hostId), true);
    assert.deepEqual(await leasesOf(db, hostId, "bridge"), []);
    assert.equal(await releaseAddress(db, { pool: "bridge", holder: "instance:gone" }), false);
  });
});

describe("allocation under concurrency (real PostgreSQL, 10 connections)", () => {
  let fresh: { handle: DatabaseHandle; drop(): Promise<void> };
  let db: Database;
  before(async () => {
    fresh = await freshPostgresDatabase(adminUrl);
    await migrateDatabase(fresh.handle);
    db = fresh.handle.db;
  });
  after(() => fresh?.drop());

  test("200 concurrent allocations on one pool: 200 distinct addresses, the 200 lowest, no error", async () => {
    const hostId = await newHost(db);
    const range = parseRange("172.30.0.11-172.30.0.254");
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => allocateAddress(db, { hostId, pool: "bridge", range, holder: `instance:${i}` })),
    );
    const errors = results.filter((r) => r.status === "rejected");
    assert.deepEqual(errors, []);
    const addresses = results.map((r) => (r as PromiseFulfilledResult<string>).value);
    assert.equal(new Set(addresses).size, 200, "no duplicates");
    const expected = Array.from({ length: 200 }, (_, i) => formatIPv4(range.first + i));
    assert.deepEqual([...addresses].sort((x, y) => parseIPv4(x) - parseIPv4(y)), expected, "exactly .11-.210");

    const leases = await leasesOf(db, hostId, "bridge");
    assert.deepEqual(leases.map((l) => l.address), expected);
    // Each holder got the address it was told.
    const byHolder = new Map(leases.map((l) => [l.holder, l.address]));
    addresses.forEach((address, i) => assert.equal(byHolder.get(`instance:${i}`), address));
  });

  test("50 concurrent allocations on a 20-address range: 20 succeed, 30 PoolExhaustedError", async () => {
    const hostId = await newHost(db);
    const range = parseRange("10.9.0.1-10.9.0.20");
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => allocateAddress(db, { hostId, pool: "wireguard", range, holder: `device:${i}` })),
    );
    const ok = results.filter((r): r is PromiseFulfilledResult<string> => r.status === "fulfilled").map((r) => r.value);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason);
    assert.equal(ok.length, 20);
    assert.equal(new Set(ok).size, 20, "no duplicates");
    assert.equal(failed.length, 30);
    for (const err of failed) assert.ok(err instanceof PoolExhaustedError, String(err));
    assert.equal((await leasesOf(db, hostId, "wireguard")).length, 20);
  });

  test("concurrent allocations for one holder all get the same address", async () => {
    const hostId = await newHost(db);
    const range = parseRange("10.10.0.1-10.10.0.50");
    const addresses = await Promise.all(
      Array.from({ length: 20 }, () => allocateAddress(db, { hostId, pool: "bridge", range, holder: "instance:same" })),
    );
    assert.equal(new Set(addresses).size, 1);
    assert.equal((await leasesOf(db, hostId, "bridge")).length, 1);
  });
});
