import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { digestBytes, digestPrefix32, digestText } from "../../../lib/digest.js";
import { seededRandom } from "../../../lib/random.js";
import { testSeed } from "../../helpers/random.js";

describe("one-shot digests", function () {
  it("give the same bytes as a Hash object, as bytes and as latin1 text, for random inputs (seeded)", function () {
    const random = seededRandom(testSeed("digest"));
    for (let i = 0; i < 500; i++) {
      const input = Buffer.alloc(random.int(200));
      for (let j = 0; j < input.length; j++) input[j] = random.int(256);
      for (const algorithm of ["sha1", "sha256"] as const) {
        const expected = createHash(algorithm).update(input).digest();
        assert.deepEqual(digestBytes(algorithm, input), expected, `${algorithm} of ${input.toString("hex")}`);
        const text = digestText(algorithm, input);
        assert.equal(text.length, expected.length, "one character per byte");
        assert.deepEqual(Buffer.from(text, "latin1"), expected);
        assert.equal(digestPrefix32(text), expected.readUInt32BE(0));
      }
    }
  });

  it("hash a string input as its UTF-8 bytes", function () {
    assert.deepEqual(digestBytes("sha256", "été"), createHash("sha256").update(Buffer.from("été", "utf8")).digest());
  });
});
