import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { DynamoError } from "../../../node/errors/index.js";
import { CONTEXT_LIMITS, decodeContext, encodeContext, type VersionVector } from "../../../node/versioning/index.js";
import { seededRandom } from "../../../lib/random.js";
import { testSeed } from "../../helpers/random.js";

const secret = Buffer.from("a cluster secret of reasonable length");
const key = Buffer.from("user/42");
const clock: VersionVector = { "node-a-7f3c": 12, "node-b-91d0": 3, "ñ-é": 1 };

/** Asserts that decoding fails as a client error whose message matches. */
function assertRefused(text: string, message: RegExp, bucket = "default", forKey = key): void {
  assert.throws(
    () => decodeContext(text, bucket, forKey, secret),
    (error: unknown) => error instanceof DynamoError && error.code === "invalid_request" && message.test(error.message),
  );
}

describe("versioning: client contexts", () => {
  it("round-trips a clock for the same bucket and key", () => {
    const text = encodeContext(clock, "default", key, secret);
    assert.deepEqual(decodeContext(text, "default", key, secret), clock);
  });

  it("is compact and safe in headers and URLs", () => {
    const text = encodeContext({ "0123456789abcdef": 42 }, "default", key, secret);
    assert.match(text, /^[A-Za-z0-9_-]+$/);
    assert.ok(text.length <= 48, `${text.length} characters`);
  });

  it("does not depend on the clock's key order", () => {
    const reordered = Object.fromEntries(Object.entries(clock).reverse());
    assert.equal(encodeContext(reordered, "default", key, secret), encodeContext(clock, "default", key, secret));
  });

  it("carries the HMAC-SHA256 of RFC 2104 over the domain, bucket, key and clock, for secrets of any length", () => {
    const random = seededRandom(testSeed("context MAC"));
    for (const length of [1, 16, 32, 63, 64, 65, 100, 200]) {
      const someSecret = Buffer.from(Array.from({ length }, () => random.int(256)));
      const text = encodeContext(clock, "bücket", key, someSecret);
      const raw = Buffer.from(text, "base64url");
      const body = raw.subarray(0, raw.length - 16);
      const bucket = Buffer.from("bücket", "utf8");
      const lengths = Buffer.alloc(8);
      lengths.writeUInt32BE(bucket.length, 0);
      lengths.writeUInt32BE(key.length, 4);
      const expected = createHmac("sha256", someSecret)
        .update(Buffer.concat([Buffer.from("dynamo/client-context\0"), lengths.subarray(0, 4), bucket, lengths.subarray(4), key, body]))
        .digest()
        .subarray(0, 16);
      assert.deepEqual(raw.subarray(raw.length - 16), expected, `a ${length}-byte secret`);
      assert.deepEqual(decodeContext(text, "bücket", key, someSecret), clock);
    }
  });

  it("keeps each bucket's MAC its own under one secret, past the buckets whose start it keeps", () => {
    const someSecret = Buffer.from("a secret shared by many buckets");
    const names = Array.from({ length: 300 }, (_, i) => `bucket-${i}`);
    const texts = names.map((name) => encodeContext(clock, name, key, someSecret));
    for (let i = 0; i < names.length; i++) {
      const bucket = Buffer.from(names[i]!, "utf8");
      const lengths = Buffer.alloc(8);
      lengths.writeUInt32BE(bucket.length, 0);
      lengths.writeUInt32BE(key.length, 4);
      const raw = Buffer.from(texts[i]!, "base64url");
      const expected = createHmac("sha256", someSecret)
        .update(Buffer.concat([Buffer.from("dynamo/client-context\0"), lengths.subarray(0, 4), bucket, lengths.subarray(4), key, raw.subarray(0, raw.length - 16)]))
        .digest()
        .subarray(0, 16);
      assert.deepEqual(raw.subarray(raw.length - 16), expected, names[i]);
      assert.deepEqual(decodeContext(texts[i]!, names[i]!, key, someSecret), clock);
      assert.throws(() => decodeContext(texts[i]!, names[(i + 1) % names.length]!, key, someSecret), /integrity check/);
    }
  });

  it("reads the empty string as the empty context", () => {
    assert.deepEqual(decodeContext("", "default", key, secret), {});
  });

  it("round-trips the empty clock and binary keys", () => {
    const binaryKey = Buffer.from([0, 255, 1, 254]);
    const text = encodeContext({}, "b", binaryKey, secret);
    assert.deepEqual(decodeContext(text, "b", binaryKey, secret), {});
  });

  it("refuses a context issued for another key or bucket", () => {
    const text = encodeContext(clock, "default", key, secret);
    assertRefused(text, /integrity check/, "default", Buffer.from("user/43"));
    assertRefused(text, /integrity check/, "other", key);
  });

  it("refuses a context signed with another secret", () => {
    const text = encodeContext(clock, "default", key, Buffer.from("another secret"));
    assertRefused(text, /integrity check/);
  });

  it("does not confuse bucket and key boundaries", () => {
    const text = encodeContext(clock, "ab", Buffer.from("c"), secret);
    assertRefused(text, /integrity check/, "a", Buffer.from("bc"));
  });

  it("refuses every single-character alteration", () => {
    const text = encodeContext(clock, "default", key, secret);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (let index = 0; index < text.length; index++) {
      for (const replacement of alphabet) {
        if (replacement === text[index]) continue;
        const altered = text.slice(0, index) + replacement + text.slice(index + 1);
        assert.throws(() => decodeContext(altered, "default", key, secret), DynamoError, `${index}:${replacement}`);
      }
    }
  });

  it("refuses every truncation and extension", () => {
    const text = encodeContext(clock, "default", key, secret);
    for (let length = 1; length < text.length; length++) {
      const truncated = text.slice(0, length);
      assert.throws(() => decodeContext(truncated, "default", key, secret), DynamoError, `length ${length}`);
    }
    assertRefused(`${text}A`, /base64url|integrity/);
    assertRefused(`${text}AAAA`, /integrity/);
  });

  it("refuses garbage with a clear message", () => {
    assertRefused("not a context!", /not valid base64url/);
    assertRefused("abc=", /not valid base64url/);
    assertRefused("AQ", /truncated/);
    assertRefused(Buffer.alloc(40, 7).toString("base64url"), /unsupported format version 7/);
    assertRefused(Buffer.alloc(40, 1).toString("base64url"), /integrity check/);
  });

  it("refuses random strings (seeded)", () => {
    const random = seededRandom(testSeed() + 7000);
    for (let run = 0; run < 500; run++) {
      const bytes = Buffer.from(Array.from({ length: random.int(64) + 1 }, () => random.int(256)));
      assert.throws(() => decodeContext(bytes.toString("base64url"), "default", key, secret), DynamoError);
    }
  });

  it("refuses contexts over the size limit before looking inside", () => {
    assertRefused("A".repeat(CONTEXT_LIMITS.textLengthMax + 1), /8193 characters long; the limit is 8192/);
  });

  it("refuses contexts naming too many actors, even when correctly signed", () => {
    const crowded: VersionVector = {};
    for (let index = 0; index <= CONTEXT_LIMITS.actorsMax; index++) crowded[index.toString(36).padStart(2, "0")] = 1;
    const text = encodeContext(crowded, "default", key, secret);
    assert.ok(text.length <= CONTEXT_LIMITS.textLengthMax, "the test context stays under the size limit");
    assertRefused(text, /1001 actors, more than the limit of 1000/);
    const atLimit = Object.fromEntries(Object.entries(crowded).slice(1));
    const decoded = decodeContext(encodeContext(atLimit, "default", key, secret), "default", key, secret);
    assert.equal(Object.keys(decoded).length, 1000);
  });
});
