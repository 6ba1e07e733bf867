import assert from "node:assert/strict";
import { compareHlc, HybridClock, type Hlc } from "../../../node/versioning/index.js";
import { seededRandom } from "../../../lib/random.js";
import { testSeed } from "../../helpers/random.js";

/** A wall clock the test sets by hand. */
function fakeWallClock(startMs: number): { now: () => number; set: (ms: number) => void } {
  let current = startMs;
  return { now: () => current, set: (ms) => (current = ms) };
}

describe("versioning: hybrid logical clock", () => {
  it("orders timestamps by milliseconds, then logical counter", () => {
    assert.ok(compareHlc({ ms: 1, logical: 9 }, { ms: 2, logical: 0 }) < 0);
    assert.ok(compareHlc({ ms: 2, logical: 1 }, { ms: 2, logical: 0 }) > 0);
    assert.equal(compareHlc({ ms: 2, logical: 1 }, { ms: 2, logical: 1 }), 0);
  });

  it("follows the wall clock while it moves forward", () => {
    const wall = fakeWallClock(1000);
    const clock = new HybridClock(wall.now);
    assert.deepEqual(clock.tick(), { ms: 1000, logical: 0 });
    wall.set(1005);
    assert.deepEqual(clock.tick(), { ms: 1005, logical: 0 });
  });

  it("counts logically within one millisecond", () => {
    const clock = new HybridClock(() => 1000);
    assert.deepEqual([clock.tick(), clock.tick(), clock.tick()], [
      { ms: 1000, logical: 0 },
      { ms: 1000, logical: 1 },
      { ms: 1000, logical: 2 },
    ]);
  });

  it("never goes backwards when the wall clock does", () => {
    const wall = fakeWallClock(5000);
    const clock = new HybridClock(wall.now);
    const before = clock.tick();
    wall.set(1000);
    const after = clock.tick();
    assert.ok(compareHlc(after, before) > 0);
    assert.deepEqual(after, { ms: 5000, logical: 1 });
    wall.set(5001);
    assert.deepEqual(clock.tick(), { ms: 5001, logical: 0 });
  });

  it("stamps the next write after a timestamp it observed from a node ahead of it", () => {
    const clock = new HybridClock(() => 1000);
    clock.tick();
    clock.observe({ ms: 9000, logical: 3 });
    assert.deepEqual(clock.tick(), { ms: 9000, logical: 4 });
    clock.observe({ ms: 10, logical: 0 });
    assert.deepEqual(clock.tick(), { ms: 9000, logical: 5 });
  });

  it("stays strictly increasing under a randomly jumping wall clock (seeded)", () => {
    const random = seededRandom(testSeed() + 4000);
    const wall = fakeWallClock(1_000_000);
    const clock = new HybridClock(wall.now);
    let previous: Hlc = clock.tick();
    for (let step = 0; step < 5000; step++) {
      wall.set(1_000_000 + random.int(2000) - 1000);
      if (random.chance(0.1)) clock.observe({ ms: 1_000_000 + random.int(3000) - 1000, logical: random.int(5) });
      const next = clock.tick();
      assert.ok(compareHlc(next, previous) > 0, `step ${step}`);
      previous = next;
    }
  });

  it("hands out copies, so callers cannot disturb its state", () => {
    const clock = new HybridClock(() => 1000);
    const stamp = clock.tick();
    stamp.ms = 0;
    assert.deepEqual(clock.tick(), { ms: 1000, logical: 1 });
  });
});
