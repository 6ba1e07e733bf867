import assert from "node:assert/strict";
import { AdaptivePace, LatencyWindow } from "../../../node/handoff/index.js";

/**
 * A pace on a simulated clock: `lag` is what the event loop's delay reads, `latency` the client p99 (undefined: no
 * clients), both set by each test; by default clients see a steady 5 ms. A node that has just started counts as one
 * without clients until a window in which it served requests has passed.
 */
function simulated(options: { ceiling?: number; lagTargetMs?: number; start?: number } = {}) {
  let now = 0;
  let lag = 0;
  let latency: number | undefined = 5;
  let served = 100;
  const pace = new AdaptivePace({
    ceilingBytesPerSecond: options.ceiling ?? 64_000_000,
    floorBytesPerSecond: 2_000_000,
    startBytesPerSecond: options.start,
    lagTargetMs: options.lagTargetMs ?? 20,
    idleFactor: 1.5,
    windowMs: 250,
    lag: () => lag,
    latency: () => latency,
    latencyFactor: 1.25,
    served: () => served,
    quietLagTargetMs: 100,
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  });
  return {
    pace,
    setLag: (ms: number) => (lag = ms),
    setLatency: (ms: number | undefined) => (latency = ms),
    /** Requests the node serves per window; 0 makes every window a quiet one. */
    setServed: (count: number) => (served = count),
    advance: (ms: number) => (now += ms),
    /** `count` windows pass without streaming, each sampled as the node's timer samples it. */
    sampleWindows: (count: number) => {
      for (let i = 0; i < count; i++) {
        now += 250;
        pace.sample();
      }
    },
    /** Two seconds without streaming (windows that measure the levels without it), then the burst's first bytes. */
    startBurst: async () => {
      now += 2000;
      await pace.take(1);
    },
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
  it("starts from the floor and climbs to the configured rate while the event loop keeps up", async function () {
    const sim = simulated();
    sim.setLag(5);
    sim.sampleWindows(1);
    assert.equal(sim.pace.state.bytesPerSecond, 2_000_000, "a window with requests takes a node just started to the start rate");
    assert.equal(sim.pace.pageBytes(), 500_000, "a page is one 250 ms window's worth at the floor");
    await stream(sim, 5);
    assert.equal(sim.pace.pageBytes(), 16_000_000);
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
    const slowed = await stream(sim, 5);
    assert.ok(slowed < 3_000_000, `rate while behind ${slowed}`);
    sim.setLag(5);
    await stream(sim, 5);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000);
  });

  it("measures the delay against the level the node has without streaming", async function () {
    const sim = simulated();
    // A machine busy anyway: 60 ms of delay with nothing streaming.
    sim.setLag(60);
    await sim.startBurst();
    assert.equal(sim.pace.state.idleLagMs, 60);
    assert.equal(sim.pace.state.targetMs, 90);
    // Streaming that keeps the delay near that level climbs to the configured rate ...
    sim.setLag(70);
    await stream(sim, 5);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000);
    // ... and streaming that makes it much worse backs off.
    sim.setLag(200);
    await stream(sim, 2);
    assert.equal(sim.pace.state.bytesPerSecond, 2_000_000);
  });

  it("doubles from the floor until the first window that backs off, then climbs by a quarter", async function () {
    const sim = simulated();
    sim.setLag(5);
    await sim.startBurst();
    await stream(sim, 1.1);
    const started = sim.pace.state.bytesPerSecond;
    assert.ok(started >= 16_000_000, `rate after a second of slow start ${started}`);
    sim.setLag(80);
    await stream(sim, 0.3);
    const backedOff = sim.pace.state.bytesPerSecond;
    assert.ok(backedOff < started, `rate after a bad window ${backedOff}`);
    sim.setLag(5);
    await stream(sim, 0.3);
    const climbed = sim.pace.state.bytesPerSecond;
    assert.ok(climbed > backedOff && climbed <= backedOff * 1.25 * 1.25, `rate after good windows ${climbed} from ${backedOff}`);
  });

  it("starts every burst of streaming after an idle spell from the floor again, but keeps its rate over a short pause", async function () {
    const sim = simulated();
    sim.setLag(5);
    await stream(sim, 5);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000);
    // A transfer waiting a second for its next page, or the next partition starting, is the same burst.
    sim.advance(1000);
    await sim.pace.take(1);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000);
    assert.equal(sim.pace.state.idleLagMs, 5, "the pause still measures the level without streaming");
    sim.advance(2500);
    await sim.pace.take(1);
    assert.equal(sim.pace.state.bytesPerSecond, 2_000_000);
  });

  it("keeps doubling from the floor through windows over the target that come while it is at the floor", async function () {
    const sim = simulated();
    sim.setLag(5);
    sim.advance(3000);
    await sim.pace.take(1);
    // A node's first windows of streaming read a stall that streaming at the floor did not cause.
    sim.setLag(40);
    await stream(sim, 0.6);
    assert.equal(sim.pace.state.bytesPerSecond, 2_000_000);
    sim.setLag(5);
    await stream(sim, 1.1);
    const climbed = sim.pace.state.bytesPerSecond;
    assert.ok(climbed >= 16_000_000, `rate a second after the stalls ${climbed}: still doubling`);
    // Over the target above the floor, the slow start ends as before.
    sim.setLag(80);
    await stream(sim, 0.3);
    const backedOff = sim.pace.state.bytesPerSecond;
    sim.setLag(5);
    await stream(sim, 0.3);
    assert.ok(sim.pace.state.bytesPerSecond <= backedOff * 1.25 * 1.25, `climbs by a quarter after backing off above the floor`);
  });

  it("starts a burst above the floor when asked to, and backs off from there down to the floor, no lower", async function () {
    const sim = simulated({ start: 8_000_000 });
    sim.setLag(5);
    sim.sampleWindows(1);
    assert.equal(sim.pace.state.bytesPerSecond, 8_000_000);
    await sim.startBurst();
    sim.setLatency(50);
    await stream(sim, 3);
    assert.equal(sim.pace.state.bytesPerSecond, 2_000_000, "clients that suffer take the rate down to the floor");
    // A new burst after a pause starts at the start rate again, and a window over the target there leaves the slow start
    // on: the next good window doubles.
    sim.setLatency(5);
    sim.advance(5000);
    await sim.startBurst();
    assert.equal(sim.pace.state.bytesPerSecond, 8_000_000);
    sim.setLag(80);
    sim.advance(250);
    await sim.pace.take(1);
    assert.equal(sim.pace.state.bytesPerSecond, 4_000_000);
    sim.setLag(5);
    sim.advance(250);
    await sim.pace.take(1);
    assert.equal(sim.pace.state.bytesPerSecond, 8_000_000, "still in its slow start");
  });

  it("lets a page larger than a second's worth through rather than stalling it forever", async function () {
    const sim = simulated({ ceiling: 100_000 });
    sim.setLag(5);
    await sim.pace.take(5_000_000);
    await sim.pace.take(5_000_000);
    assert.ok(sim.now < 120_000, `took ${sim.now} ms`);
  });

  it("backs off while client latency rises over its level without streaming, though the event loop keeps up", async function () {
    const sim = simulated();
    sim.setLag(5);
    // Clients see 10 ms with nothing streaming.
    sim.setLatency(10);
    await sim.startBurst();
    assert.equal(sim.pace.state.idleLatencyMs, 10);
    assert.equal(sim.pace.state.latencyTargetMs, 12.5);
    // Streaming that leaves client latency within a quarter of that climbs to the configured rate ...
    sim.setLatency(12);
    await stream(sim, 5);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000);
    // ... streaming that makes it worse backs off to the floor, with the event loop as quick as before ...
    sim.setLatency(25);
    await stream(sim, 2);
    assert.equal(sim.pace.state.bytesPerSecond, 2_000_000);
    const slowed = await stream(sim, 2);
    assert.ok(slowed < 3_000_000, `rate while clients suffer ${slowed}`);
    // ... and climbs back once clients are served as before.
    sim.setLatency(10);
    await stream(sim, 5);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000);
  });

  it("holds streaming to the client latency of the last quiet seconds, sampled while nothing streams", async function () {
    const sim = simulated();
    sim.setLag(5);
    // A busy spell long before the burst (a bulk load: 60 ms), then ten quiet seconds at 10 ms, each window sampled.
    sim.setLatency(60);
    sim.sampleWindows(1);
    assert.equal(sim.pace.state.idleLatencyMs, 60);
    sim.setLatency(10);
    sim.sampleWindows(40);
    const level = sim.pace.state.idleLatencyMs!;
    assert.ok(level > 10 && level < 10.5, `level without streaming ${level}`);
    // One unlucky quiet window moves the level an eighth of the way, not half.
    sim.setLatency(50);
    sim.sampleWindows(1);
    assert.ok(Math.abs(sim.pace.state.idleLatencyMs! - (level + (50 - level) / 8)) < 1e-9);
    // Streaming that doubles client latency is held at the floor: it is measured against the quiet seconds, not the load.
    sim.setLatency(10);
    sim.sampleWindows(40);
    sim.setLatency(20);
    await sim.pace.take(1);
    const rate = await stream(sim, 3);
    assert.ok(rate < 3_000_000, `rate while client latency doubled ${rate}`);
    assert.equal(sim.pace.state.bytesPerSecond, 2_000_000);
  });

  it("quadruples from the floor on a node without clients, and doubles on one with them", async function () {
    const rateAfterOneSecond = async (latency: number | undefined) => {
      const sim = simulated();
      sim.setLag(5);
      sim.setLatency(latency);
      await sim.startBurst();
      assert.equal(sim.pace.state.bytesPerSecond, 2_000_000);
      await stream(sim, 1.1);
      return sim.pace.state.bytesPerSecond;
    };
    // Four good windows: 2 MB/s times 4^4 is past the 64 MB/s ceiling; times 2^4 is 32 MB/s.
    assert.equal(await rateAfterOneSecond(undefined), 64_000_000);
    assert.equal(await rateAfterOneSecond(5), 32_000_000);
  });

  it("follows the event loop alone on a node without clients", async function () {
    const sim = simulated();
    sim.setLag(5);
    sim.setLatency(undefined);
    await sim.startBurst();
    assert.equal(sim.pace.state.latencyTargetMs, undefined);
    await stream(sim, 5);
    const rate = await stream(sim, 5);
    assert.ok(rate > 55_000_000, `rate ${rate}`);
  });
});

describe("the streaming pace on a node that serves no requests", function () {
  it("holds a window without requests to the looser delay target, and one with requests to the usual", async function () {
    const climbsThrough = async (served: number) => {
      const sim = simulated();
      sim.setLag(5);
      sim.setLatency(undefined);
      sim.setServed(served);
      await sim.startBurst();
      await stream(sim, 0.3);
      // 50 ms of delay: over the 20 ms target, under the quiet 100 ms.
      sim.setLag(50);
      await stream(sim, 2);
      return sim.pace.state;
    };
    const quiet = await climbsThrough(0);
    assert.equal(quiet.bytesPerSecond, 64_000_000, "nobody waits for the loop: streaming goes on at the ceiling");
    assert.equal(quiet.quiet, true);
    assert.equal(quiet.targetMs, 100);
    const busy = await climbsThrough(100);
    assert.equal(busy.bytesPerSecond, 2_000_000, "with requests served, 50 ms of delay takes the rate to the floor");
    assert.equal(busy.targetMs, 20);
  });

  it("still backs off a quiet window whose delay is over the looser target", async function () {
    const sim = simulated();
    sim.setLag(5);
    sim.setServed(0);
    await sim.startBurst();
    await stream(sim, 2);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000);
    sim.setLag(150);
    await stream(sim, 2);
    assert.equal(sim.pace.state.bytesPerSecond, 2_000_000);
  });

  it("when requests come back, goes back to the rate it had with them instead of halving from the quiet one", async function () {
    const sim = simulated();
    sim.setLag(5);
    await sim.startBurst();
    // With requests, 30 ms of delay holds the rate at the floor.
    sim.setLag(30);
    await stream(sim, 1);
    assert.equal(sim.pace.state.bytesPerSecond, 2_000_000);
    // Nobody asks for anything for two seconds: the rate climbs to the ceiling.
    sim.setServed(0);
    await stream(sim, 2);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000);
    // The first window with requests again takes it back to the floor, not to half the ceiling.
    sim.setServed(50);
    await stream(sim, 0.3);
    assert.equal(sim.pace.state.bytesPerSecond, 2_000_000);
    assert.equal(sim.pace.state.quiet, false);
  });
});

describe("the streaming pace's start", function () {
  it("starts a burst at the ceiling on a node that served nothing for two seconds, and at the start rate otherwise", async function () {
    const startRate = async (served: number) => {
      const sim = simulated({ start: 4_000_000 });
      sim.setLag(5);
      sim.setLatency(served === 0 ? undefined : 5);
      sim.setServed(served);
      sim.sampleWindows(12);
      return sim.pace.state.bytesPerSecond;
    };
    assert.equal(await startRate(0), 64_000_000);
    assert.equal(await startRate(100), 4_000_000);
  });

  it("does not take a lull for a node without clients: a burst after fewer quiet windows starts at the start rate", async function () {
    const sim = simulated({ start: 4_000_000 });
    sim.setLag(5);
    for (let i = 0; i < 12; i++) {
      sim.setServed(i < 6 ? 100 : 0);
      sim.sampleWindows(1);
    }
    assert.equal(sim.pace.state.bytesPerSecond, 4_000_000);
  });

  it("starts at the ceiling on a node that has just started, and goes down to the start rate with its first requests", async function () {
    const sim = simulated({ start: 4_000_000 });
    sim.setLag(5);
    sim.setLatency(undefined);
    sim.setServed(0);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000, "a joining node's first transfers need not climb");
    assert.ok((await stream(sim, 0.5)) > 32_000_000);
    sim.setServed(100);
    sim.setLatency(5);
    await stream(sim, 0.26);
    assert.equal(sim.pace.state.bytesPerSecond, 8_000_000, "the start rate, then doubled once in a good window");
  });

  it("goes down to the start rate in the first window with requests after a start at the ceiling", async function () {
    const sim = simulated({ start: 4_000_000 });
    sim.setLag(5);
    sim.setLatency(undefined);
    sim.setServed(0);
    sim.sampleWindows(12);
    await stream(sim, 1);
    assert.equal(sim.pace.state.bytesPerSecond, 64_000_000);
    // Clients arrive; their latency is what it was without streaming, yet the ceiling was never measured against them.
    sim.setServed(100);
    sim.setLatency(5);
    await stream(sim, 0.26);
    assert.equal(sim.pace.state.bytesPerSecond, 8_000_000, "the start rate, then doubled once in a good window");
  });
});

describe("the client latency window", function () {
  it("gives the 99th percentile of a window within a bucket's width, and starts a new window", function () {
    const window = new LatencyWindow();
    for (let i = 0; i < 990; i++) window.record(2);
    for (let i = 0; i < 10; i++) window.record(200);
    const p99 = window.takeP99()!;
    assert.ok(p99 >= 2 && p99 < 2 * 1.19, `p99 ${p99}`);
    for (let i = 0; i < 980; i++) window.record(2);
    for (let i = 0; i < 20; i++) window.record(200);
    const slow = window.takeP99()!;
    assert.ok(slow >= 200 && slow < 200 * 1.19, `p99 ${slow}`);
  });

  it("says nothing of a window with too few requests, and bounds what it records", function () {
    const window = new LatencyWindow(20);
    for (let i = 0; i < 19; i++) window.record(5);
    assert.equal(window.takeP99(), undefined);
    for (let i = 0; i < 100; i++) window.record(1e9);
    assert.ok(window.takeP99()! > 100_000);
    for (let i = 0; i < 100; i++) window.record(0);
    assert.equal(window.takeP99(), 0.1);
  });
});
