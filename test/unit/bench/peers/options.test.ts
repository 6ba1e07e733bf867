import assert from "node:assert/strict";
import { parsePeersOptions } from "../../../../bench/peers/options.js";

describe("bench:peers options", function () {
  it("defaults to five systems (store-plain on request), A/B/C, two rounds of 20 s with 16 clients", function () {
    const options = parsePeersOptions([])!;
    assert.deepEqual(options.systems, ["store", "store-rmw", "cassandra", "etcd", "redis"]);
    assert.deepEqual(parsePeersOptions(["--systems", "store-plain,etcd"])!.systems, ["store-plain", "etcd"]);
    assert.deepEqual(options.workloads.map((w) => w.name), ["A", "B", "C"]);
    assert.equal(options.rounds, 2);
    assert.equal(options.clients, 16);
    assert.equal(options.seconds, 20);
    assert.equal(options.records, 10_000);
    assert.equal(options.valueBytes, 1024);
    assert.equal(options.downOne, false);
    assert.equal(options.durable, false);
  });

  it("takes every flag of the issue", function () {
    const options = parsePeersOptions(["--systems", "store,redis", "--workloads", "c", "--rounds", "3", "--clients", "8", "--seconds", "5",
      "--records", "500", "--value-bytes", "100", "--seed", "42", "--down-one", "--durable"])!;
    assert.deepEqual(options.systems, ["store", "redis"]);
    assert.deepEqual(options.workloads.map((w) => w.name), ["C"]);
    assert.deepEqual([options.rounds, options.clients, options.seconds, options.records, options.valueBytes, options.seed], [3, 8, 5, 500, 100, 42]);
    assert.ok(options.downOne && options.durable);
  });

  it("refuses unknown or repeated systems and bad numbers with a message naming them", function () {
    assert.throws(() => parsePeersOptions(["--systems", "store,mongo"]), /unknown system 'mongo'/);
    assert.throws(() => parsePeersOptions(["--systems", "etcd,etcd"]), /twice/);
    assert.throws(() => parsePeersOptions(["--rounds", "0"]), /--rounds must be an integer of at least 1/);
    assert.throws(() => parsePeersOptions(["--bogus"]), /bogus/);
  });
});
