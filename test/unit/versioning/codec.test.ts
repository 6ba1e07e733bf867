import assert from "node:assert/strict";
import {
  encodeContext,
  encodeContextOfRecord,
  checkRecord,
  clockCovers,
  CorruptRecordError,
  descends,
  decodeRecord,
  encodeRecord,
  merge,
  RECORD_FORMAT_VERSION,
  update,
  type Sibling,
  type VersionedRecord,
} from "../../../node/versioning/index.js";
import { del, put } from "./fixtures.js";
import { seededRandom, type SeededRandom as Random } from "../../../lib/random.js";
import { testSeed } from "../../helpers/random.js";

function roundTrip(record: VersionedRecord): VersionedRecord {
  return decodeRecord(encodeRecord(record));
}

function sibling(actor: string, counter: number, value: Buffer | null): Sibling {
  const timestamp = { ms: 1_700_000_000_000 + counter, logical: counter };
  return { dot: { actor, counter }, value, contentType: "application/octet-stream", timestamp };
}

/** Decodes hand-built bytes, so corruption tests can state the exact input. */
function decodeBytes(...bytes: number[]): VersionedRecord {
  return decodeRecord(Buffer.from(bytes));
}

function bytesOf(length: number, random: Random): Buffer {
  return Buffer.from(Array.from({ length }, () => random.int(256)));
}

/** A random record as replicas produce them: several actors, siblings, tombstones, values of varied sizes. */
function randomRecord(random: Random): VersionedRecord {
  let record: VersionedRecord | undefined;
  const actors = ["a", "node-1", "ñødé-2", "z".repeat(40)];
  for (let writes = 1 + random.int(6); writes > 0; writes--) {
    const value = random.chance(0.2) ? null : bytesOf(random.int(40), random);
    const write = { value, contentType: random.pick(["", "text/plain", "application/json; charset=utf-8", "тип/β"]),
      timestamp: { ms: random.int(2 ** 45), logical: random.int(300) } };
    const context = random.chance(0.5) || record === undefined ? {} : record.clock;
    record = merge(record, update(record, context, write, random.pick(actors)));
  }
  return record as VersionedRecord;
}

describe("versioning: record codec", () => {
  it("round-trips a single value", () => {
    const record = update(undefined, {}, put("hello"), "node-a");
    assert.deepEqual(roundTrip(record), record);
  });

  it("round-trips siblings, tombstones and empty values", () => {
    let record = update(undefined, {}, put("one"), "A");
    record = update(record, {}, del(2000, 3), "B");
    record = update(record, {}, { value: Buffer.alloc(0), contentType: "", timestamp: { ms: 0, logical: 0 } }, "C");
    const decoded = roundTrip(record);
    assert.deepEqual(decoded, record);
    assert.equal(decoded.siblings[1]?.value, null);
    assert.deepEqual(decoded.siblings[2]?.value, Buffer.alloc(0));
  });

  it("round-trips unicode content types and actor ids", () => {
    const contentType = "text/plain; charset=utf-8; note=ünïcødé ☃ 🎉";
    const record = update(undefined, {}, put("v", 1, 0, contentType), "節点-ß");
    assert.deepEqual(roundTrip(record), record);
  });

  it("round-trips a 1 MiB value byte for byte", () => {
    const value = Buffer.alloc(1024 * 1024);
    for (let index = 0; index < value.length; index++) value[index] = (index * 31 + 7) & 0xff;
    const write = { value, contentType: "application/octet-stream", timestamp: { ms: 5, logical: 0 } };
    const record = update(undefined, {}, write, "A");
    const encoded = encodeRecord(record);
    assert.ok(encoded.length < value.length + 64, "a large value costs only a few bytes of framing");
    assert.ok(value.equals(decodeRecord(encoded).siblings[0]?.value as Buffer));
  });

  it("round-trips counters and timestamps up to the largest safe integer", () => {
    const max = Number.MAX_SAFE_INTEGER;
    const record: VersionedRecord = {
      clock: { A: max },
      siblings: [
        { dot: { actor: "A", counter: max }, value: null, contentType: "", timestamp: { ms: max, logical: max } },
      ],
    };
    assert.deepEqual(roundTrip(record), record);
  });

  it("is compact: a 1 KiB value with one sibling carries little overhead", () => {
    const record = update(undefined, {}, { value: Buffer.alloc(1024, 1), contentType: "application/json",
      timestamp: { ms: Date.now(), logical: 0 } }, "0123456789abcdef0123");
    const overhead = encodeRecord(record).length - 1024;
    assert.ok(overhead <= 60, `overhead was ${overhead} bytes`);
  });

  it("starts with the format version byte", () => {
    assert.equal(encodeRecord(update(undefined, {}, put("v"), "A"))[0], RECORD_FORMAT_VERSION);
  });

  it("encodes equal records to equal bytes whatever their key and sibling order", () => {
    const record: VersionedRecord = {
      clock: { A: 1, B: 2 },
      siblings: [sibling("A", 1, Buffer.from("a")), sibling("B", 2, null)],
    };
    const shuffled: VersionedRecord = { clock: { B: 2, A: 1 }, siblings: [...record.siblings].reverse() };
    assert.ok(encodeRecord(record).equals(encodeRecord(shuffled)));
    assert.deepEqual(shuffled.siblings.map((s) => s.dot.actor), ["B", "A"], "the input is not reordered in place");
  });

  it("copies values out of the input unless asked not to", () => {
    const encoded = encodeRecord(update(undefined, {}, put("abc"), "A"));
    const copied = decodeRecord(encoded);
    const viewed = decodeRecord(encoded, { copyValues: false });
    encoded.fill(0x7a, encoded.length - 3);
    assert.equal(copied.siblings[0]?.value?.toString(), "abc");
    assert.equal(viewed.siblings[0]?.value?.toString(), "zzz");
  });

  it("gives a stored version's context from its encoding, equal to the context of its clock (seeded)", () => {
    const random = seededRandom(testSeed() + 7000);
    const secret = Buffer.from("a cluster secret");
    for (let i = 0; i < 300; i++) {
      const record = randomRecord(random);
      const key = bytesOf(random.int(20), random);
      assert.equal(encodeContextOfRecord(encodeRecord(record), "carts", key, secret), encodeContext(record.clock, "carts", key, secret));
    }
  });

  it("round-trips random records (seeded)", () => {
    const random = seededRandom(testSeed() + 5000);
    for (let run = 0; run < 300; run++) {
      const record = randomRecord(random);
      assert.deepEqual(roundTrip(record), record, `run ${run}`);
    }
  });

  it("refuses to encode a record whose dots its clock does not cover, or with two siblings on one dot", () => {
    assert.throws(() => encodeRecord({ clock: { A: 1 }, siblings: [sibling("A", 2, null)] }), /not covered/);
    assert.throws(() => encodeRecord({ clock: {}, siblings: [sibling("A", 1, null)] }), /not covered/);
    const twice = sibling("A", 1, null);
    const sameDotOtherValue = { ...twice, value: Buffer.from("other") };
    assert.throws(() => encodeRecord({ clock: { A: 1 }, siblings: [twice, sameDotOtherValue] }), /share the dot/);
  });
});

describe("versioning: record codec on corrupt input", () => {
  const sample = (): Buffer => {
    let record = update(undefined, {}, put("first value", 1234, 5, "text/plain"), "node-a");
    record = update(record, {}, del(2345), "node-b");
    return encodeRecord(update(record, {}, put("third"), "node-c"));
  };

  it("refuses every truncation", () => {
    const encoded = sample();
    for (let length = 0; length < encoded.length; length++) {
      assert.throws(() => decodeRecord(encoded.subarray(0, length)), CorruptRecordError, `length ${length}`);
    }
  });

  it("refuses trailing bytes", () => {
    assert.throws(() => decodeRecord(Buffer.concat([sample(), Buffer.from([0])])), /trailing/);
  });

  it("refuses an unknown format version", () => {
    const encoded = sample();
    encoded[0] = 9;
    assert.throws(() => decodeRecord(encoded), /unsupported format version 9/);
  });

  it("refuses absurd lengths and counts without allocating or looping", () => {
    const hugeVarint = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02];
    // Clock {A: 1}, one sibling A:1 at (0, 0), not a tombstone, empty content type, then a 2^50-byte value length.
    const header = [RECORD_FORMAT_VERSION, 1, 1, 0x41, 1, 1, 0, 1, 0, 0, 0, 0];
    assert.throws(() => decodeBytes(...header, ...hugeVarint, 0x78), /value needs 1125899906842624 bytes/);
    assert.throws(() => decodeBytes(RECORD_FORMAT_VERSION, ...hugeVarint), /clock size .* exceeds/);
    assert.throws(() => decodeBytes(RECORD_FORMAT_VERSION, 0, ...hugeVarint), /sibling count .* exceeds/);
    const tooLong = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert.throws(() => decodeBytes(RECORD_FORMAT_VERSION, ...tooLong), /longer than 8 bytes/);
    const unsafe = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
    assert.throws(() => decodeBytes(RECORD_FORMAT_VERSION, ...unsafe), /largest safe integer/);
  });

  it("refuses records that break the versioning invariants", () => {
    // The clock {A: 1}, then siblings as (actor index, counter, ms, logical, flags, content type length).
    const clockA = [RECORD_FORMAT_VERSION, 1, 1, 0x41, 1];
    const tombstone = [0, 0, 0x01, 0];
    assert.throws(() => decodeBytes(...clockA, 1, 0, 0, ...tombstone), /dot counter 0/);
    assert.throws(() => decodeBytes(...clockA, 1, 0, 2, ...tombstone), /dot counter 2 is not covered/);
    assert.throws(() => decodeBytes(...clockA, 2, 0, 1, ...tombstone, 0, 1, ...tombstone), /repeats a dot/);
    assert.throws(() => decodeBytes(...clockA, 1, 0, 1, 0, 0, 0x04, 0), /unknown flags/);
    assert.throws(() => decodeBytes(RECORD_FORMAT_VERSION, 1, 1, 0x41, 0, 0), /counter 0/);
    assert.throws(() => decodeBytes(RECORD_FORMAT_VERSION, 2, 1, 0x42, 1, 1, 0x41, 1, 0), /out of order/);
    const proto = Buffer.from("__proto__");
    assert.throws(() => decodeBytes(RECORD_FORMAT_VERSION, 1, proto.length, ...proto, 1, 0), /invalid actor/);
  });

  it("either decodes or throws CorruptRecordError on random damage (seeded)", () => {
    const random = seededRandom(testSeed() + 6000);
    for (let run = 0; run < 2000; run++) {
      const damaged = Buffer.from(encodeRecord(randomRecord(random)));
      for (let flips = 1 + random.int(3); flips > 0; flips--) damaged[random.int(damaged.length)] = random.int(256);
      const input = random.chance(0.3) ? damaged.subarray(0, random.int(damaged.length + 1)) : damaged;
      try {
        const decoded = decodeRecord(input);
        assert.ok(encodeRecord(decoded).length > 0, "whatever decodes can be encoded again");
      } catch (error) {
        assert.ok(error instanceof CorruptRecordError, `run ${run}: ${String(error)}`);
      }
    }
  });

  /** Whether `checkRecord` and `decodeRecord` give `input` the same verdict, and the summary matches the record. */
  function assertSameVerdict(input: Buffer, label: string): boolean {
    const summary = checkRecord(input);
    let decoded: VersionedRecord | undefined;
    try {
      decoded = decodeRecord(input);
    } catch (error) {
      assert.ok(error instanceof CorruptRecordError, `${label}: ${String(error)}`);
    }
    assert.equal(summary !== undefined, decoded !== undefined, `${label}: checkRecord ${summary ? "accepts" : "refuses"} what decodeRecord ${decoded ? "accepts" : "refuses"} (${input.toString("hex")})`);
    if (decoded && summary) {
      assert.equal(summary.siblings, decoded.siblings.length, label);
      const newest = decoded.siblings.reduce((n, s) => (s.timestamp.ms > n.ms || (s.timestamp.ms === n.ms && s.timestamp.logical > n.logical) ? s.timestamp : n), { ms: 0, logical: 0 });
      assert.deepEqual({ ms: summary.newestMs, logical: summary.newestLogical }, newest, label);
    }
    return decoded !== undefined;
  }

  it("is checked without decoding to the same verdict as decoding: every hand-built refusal, every truncation", () => {
    const encoded = sample();
    assert.ok(assertSameVerdict(encoded, "intact"));
    for (let length = 0; length < encoded.length; length++) assertSameVerdict(encoded.subarray(0, length), `length ${length}`);
    assertSameVerdict(Buffer.concat([encoded, Buffer.from([0])]), "trailing byte");
    const clockA = [RECORD_FORMAT_VERSION, 1, 1, 0x41, 1];
    const tombstone = [0, 0, 0x01, 0];
    const proto = Buffer.from("__proto__");
    const hugeVarint = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02];
    for (const bytes of [
      [9, 0, 0],
      [...clockA, 1, 0, 0, ...tombstone],
      [...clockA, 1, 0, 2, ...tombstone],
      [...clockA, 1, 1, 1, ...tombstone],
      [...clockA, 2, 0, 1, ...tombstone, 0, 1, ...tombstone],
      [...clockA, 1, 0, 1, 0, 0, 0x04, 0],
      [RECORD_FORMAT_VERSION, 1, 1, 0x41, 0, 0],
      [RECORD_FORMAT_VERSION, 2, 1, 0x42, 1, 1, 0x41, 1, 0],
      [RECORD_FORMAT_VERSION, 2, 1, 0x41, 1, 1, 0x41, 1, 0],
      [RECORD_FORMAT_VERSION, 1, proto.length, ...proto, 1, 0],
      [RECORD_FORMAT_VERSION, 1, 0, 1, 0],
      [RECORD_FORMAT_VERSION, ...hugeVarint],
      [RECORD_FORMAT_VERSION, 0, ...hugeVarint],
      [RECORD_FORMAT_VERSION, 1, 1, 0x41, 1, 1, 0, 1, 0, 0, 0, 0, ...hugeVarint, 0x78],
    ]) {
      assert.equal(assertSameVerdict(Buffer.from(bytes), bytes.join(",")), false, bytes.join(","));
    }
    // Two actors, siblings of both in dot order and out of it.
    const clockAB = [RECORD_FORMAT_VERSION, 2, 1, 0x41, 2, 1, 0x42, 1];
    assert.ok(assertSameVerdict(Buffer.from([...clockAB, 2, 0, 2, 5, 0, ...tombstone, 1, 1, 7, 3, ...tombstone]), "A:2 then B:1"));
    assert.equal(assertSameVerdict(Buffer.from([...clockAB, 2, 1, 1, 7, 3, ...tombstone, 0, 2, 5, 0, ...tombstone]), "B:1 then A:2"), false);
    assert.equal(assertSameVerdict(Buffer.from([...clockAB, 2, 0, 2, 5, 0, ...tombstone, 0, 1, 5, 0, ...tombstone]), "A:2 then A:1"), false);
  });

  it("is checked without decoding to the same verdict as decoding on random records and random damage (seeded)", () => {
    const random = seededRandom(testSeed() + 7000);
    let accepted = 0;
    for (let run = 0; run < 3000; run++) {
      const damaged = Buffer.from(encodeRecord(randomRecord(random)));
      if (run % 3 !== 0) for (let flips = 1 + random.int(3); flips > 0; flips--) damaged[random.int(damaged.length)] = random.int(256);
      const input = random.chance(0.2) ? damaged.subarray(0, random.int(damaged.length + 1)) : damaged;
      if (assertSameVerdict(input, `run ${run}`)) accepted++;
    }
    assert.ok(accepted > 1000 && accepted < 3000, `both verdicts were exercised (${accepted} of 3000 accepted)`);
  });

  it("compares two records' clocks from their bytes as descends compares the decoded clocks (seeded)", () => {
    const random = seededRandom(testSeed() + 8000);
    // Actors that sort alike as strings and as UTF-8 bytes, and a pair that does not: U+FF5E sorts after U+1F600 as
    // UTF-16 (0xD83D) but before it as UTF-8 (0xEF < 0xF0).
    const actors = ["a", "ab", "b", "node-1", "node-10", "node-2", "z".repeat(40), "\uff5e", "\u{1f600}"];
    let covered = 0;
    let ambiguous = 0;
    for (let run = 0; run < 3000; run++) {
      const clockOf = () => {
        const clock: Record<string, number> = {};
        for (const actor of actors) if (random.chance(0.4)) clock[actor] = 1 + random.int(random.chance(0.1) ? 2 ** 40 : 4);
        return clock;
      };
      const a = clockOf();
      // Often a clock that `a` covers, or one that covers `a`, so that both verdicts and ties come up.
      const b = random.chance(0.5) ? clockOf() : Object.fromEntries(Object.entries(a).map(([actor, n]) => [actor, Math.max(1, n - random.int(2) + random.int(2))]));
      const recordOf = (clock: Record<string, number>): VersionedRecord => ({ clock, siblings: [] });
      const verdict = clockCovers(encodeRecord(recordOf(a)), encodeRecord(recordOf(b)));
      const expected = descends(a, b);
      const nonAscii = [...Object.keys(a), ...Object.keys(b)].some((actor) => [...actor].some((c) => c.charCodeAt(0) > 0x7f));
      if (verdict !== expected) {
        // Where byte order and string order disagree the answer may only err towards the general path.
        assert.ok(nonAscii && !verdict, `run ${run}: clockCovers(${JSON.stringify(a)}, ${JSON.stringify(b)}) is ${verdict}, descends says ${expected}`);
        ambiguous++;
      }
      if (verdict) covered++;
    }
    assert.ok(covered > 300 && covered < 2700, `both verdicts were exercised (${covered} of 3000 covered)`);
    assert.ok(ambiguous < 300, `${ambiguous} of 3000 fell back because of the order of actors outside ASCII`);
  });

  it("compares clocks of records with siblings, and an empty clock", () => {
    const one = update(undefined, {}, put("x"), "node-1");
    const two = update(one, one.clock, put("y"), "node-2");
    const concurrent = update(one, {}, put("z"), "node-3");
    const bytes = (record: VersionedRecord) => encodeRecord(record);
    assert.equal(clockCovers(bytes(two), bytes(one)), true);
    assert.equal(clockCovers(bytes(one), bytes(two)), false);
    assert.equal(clockCovers(bytes(two), bytes(two)), true);
    assert.equal(clockCovers(bytes(two), bytes(concurrent)), false);
    assert.equal(clockCovers(bytes(concurrent), bytes(two)), false);
    assert.equal(clockCovers(bytes(one), bytes({ clock: {}, siblings: [] })), true);
    assert.equal(clockCovers(bytes({ clock: {}, siblings: [] }), bytes(one)), false);
  });
});
