import assert from "node:assert/strict";
import { AdaptivePace } from "../../../node/handoff/index.js";

/** A pace on a simulated clock: `lag` is what the event loop's delay reads, set by each test. */
function simulated(options: { ceiling?: number; lagTargetMs?: number } = {}) {
  let now = 0;
  let lag = 0;
  const pace = new AdaptivePace({
    ceilingBytesPerSecond: options.ceiling ?? 64_000_000,
    floorBytesPerSecond: 2_000_000,
    lagTargetMs: options.lagTargetMs ?? 20,
    idleFactor: 1.5,
    windowMs: 250,
    lag: () => lag,
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  });
  return {
    pace,
    setLag: (ms: number) => (lag = ms),
    advance: (ms: number) => (now += ms),
    get now() {
      return now;
    },
  };
}

/** Streams `seconds` of 1 MB pages through the pace and returns the bytes it let through per second. */
async function stream(sim: ReturnType<typeof simulated>, seconds: number): Promise<number> {
  const start = sim.now;
  let bytes = 0;
  while (sim.now - start < seconds * 1000) {
    await sim.pace.take(1_000_000);
    bytes += 1_000_000;
    sim.advance(1);
  }
  return bytes / ((sim.now - start) / 1000);
}

describe("the adaptive streaming pace", function () {
  it("streams at the configured rate while the event loop keeps up", async function () {
    const sim = simulated();
    sim.setLag(5);
    const rate = await stream(sim, 5);
    assert.ok(rate > 55_000_000 && rate < 70_000_000, `rate ${rate}`);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000);
  });

  it("backs off to the floor while the event loop falls behind, and recovers when it catches up", async function () {
    const sim = simulated();
    sim.setLag(5);
    await stream(sim, 1);
    sim.setLag(80);
    await stream(sim, 2);
    assert.equal(sim.pace.state.bytesPerSecond, 2_000_000);
    const slowed = await stream(sim, 3);
    assert.ok(slowed < 3_000_000, `rate while behind ${slowed}`);
    sim.setLag(5);
    await stream(sim, 3);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000);
  });

  it("measures the delay against the level the node has without streaming", async function () {
    const sim = simulated();
    // A machine busy anyway: 60 ms of delay with nothing streaming.
    sim.setLag(60);
    sim.advance(2000);
    await sim.pace.take(1);
    assert.equal(sim.pace.state.idleLagMs, 60);
    assert.equal(sim.pace.state.targetMs, 90);
    // Streaming that keeps the delay near that level keeps its rate ...
    sim.setLag(70);
    await stream(sim, 2);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000);
    // ... and streaming that makes it much worse backs off.
    sim.setLag(200);
    await stream(sim, 2);
    assert.equal(sim.pace.state.bytesPerSecond, 2_000_000);
  });

  it("lets a page larger than a second's worth through rather than stalling it forever", async function () {
    const sim = simulated({ ceiling: 100_000 });
    sim.setLag(5);
    await sim.pace.take(5_000_000);
    await sim.pace.take(5_000_000);
    assert.ok(sim.now < 120_000, `took ${sim.now} ms`);
  });
});
