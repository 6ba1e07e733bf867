import assert from "node:assert/strict";
import { DEFAULT_PARTITIONS, isPowerOfTwo, partitionOf } from "../../../node/ring/index.js";

const key = (text: string): Buffer => Buffer.from(text, "utf8");

describe("ring hashing", () => {
  it("recognises powers of two and defaults to 256 partitions", () => {
    assert.equal(DEFAULT_PARTITIONS, 256);
    for (const n of [1, 2, 8, 256, 65536]) assert.equal(isPowerOfTwo(n), true, String(n));
    for (const n of [0, -2, 3, 6, 255, 1.5, Number.NaN]) assert.equal(isPowerOfTwo(n), false, String(n));
  });

  it("never changes the partition of a key (golden values)", () => {
    // sha1("default" 0x00 "user:42") = 6b515e2c…, so the top 8 bits are 0x6b = 107 and the top 16 bits 0x6b51 = 27473.
    // Changing the hash would move every key of a running cluster: these values must stay.
    assert.equal(partitionOf("default", key("user:42"), 256), 107);
    assert.equal(partitionOf("default", key("user:42"), 65536), 27473);
    assert.equal(partitionOf("carts", key(""), 1024), 222);
    assert.equal(partitionOf("default", key("été"), 64), 37);
  });

  it("is stable across calls and ignores how the key buffer was made", () => {
    for (let i = 0; i < 200; i++) {
      const text = `key-${i}`;
      const first = partitionOf("b", key(text), 1024);
      assert.equal(partitionOf("b", key(text), 1024), first);
      assert.equal(partitionOf("b", Buffer.concat([key("key-"), key(String(i))]), 1024), first);
    }
  });

  it("separates bucket from key, so moving bytes between them changes the hash", () => {
    assert.notEqual(partitionOf("a", key("bc"), 65536), partitionOf("ab", key("c"), 65536));
  });

  it("takes the top bits of the hash, so each partition is a contiguous slice that halves as Q doubles", () => {
    for (let i = 0; i < 500; i++) {
      const k = key(`user-${i}`);
      for (let q = 1; q < 65536; q *= 2) {
        assert.equal(partitionOf("default", k, q), partitionOf("default", k, q * 2) >> 1, `key user-${i}, Q=${q}`);
      }
    }
    assert.equal(partitionOf("default", key("anything"), 1), 0);
  });

  it("spreads a fixed set of keys evenly over the partitions", () => {
    const partitions = 256;
    const keys = 51_200;
    const counts = new Array<number>(partitions).fill(0);
    for (let i = 0; i < keys; i++) {
      const p = partitionOf("default", key(`user:${i}`), partitions);
      counts[p] = (counts[p] as number) + 1;
    }
    const expected = keys / partitions;
    const chiSquare = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    // With 255 degrees of freedom chi-square has mean 255 and standard deviation about 22.6; the keys are fixed, so
    // this cannot flake, and a hash that favoured some partitions by even 10% would score far above 400.
    assert.ok(chiSquare < 400, `chi-square ${chiSquare.toFixed(1)} is too large for an even spread`);
    assert.ok(Math.min(...counts) > expected * 0.7 && Math.max(...counts) < expected * 1.3, "some partition is far off");
  });

  it("refuses partition counts that are not powers of two up to 65536", () => {
    for (const bad of [0, 3, 100, 131072]) assert.throws(() => partitionOf("b", key("k"), bad), /power of two/);
  });
});
