import assert from "node:assert/strict";
import { DEFAULT_FAILURE_DETECTOR, PhiAccrualDetector } from "../../../node/cluster/failure-detector.js";

/** Heartbeats every `everyMs` from `fromMs` for `count` beats; returns the time of the last one. */
function beat(detector: PhiAccrualDetector, member: string, fromMs: number, everyMs: number, count: number): number {
  let t = fromMs;
  for (let i = 0; i < count; i++) {
    t += everyMs;
    detector.heartbeat(member, t);
  }
  return t;
}

/** Milliseconds of silence after `lastMs` until phi crosses the threshold. */
function detectionMs(detector: PhiAccrualDetector, member: string, lastMs: number): number {
  for (let silence = 0; silence < 120_000; silence += 10) if (!detector.isAvailable(member, lastMs + silence)) return silence;
  return Infinity;
}

describe("phi-accrual failure detector", () => {
  const options = { ...DEFAULT_FAILURE_DETECTOR, phiThreshold: 5 };

  it("suspects a member that falls silent within a few of its heartbeat intervals", () => {
    const detector = new PhiAccrualDetector(options);
    const last = beat(detector, "a", 0, 200, 200);
    const ms = detectionMs(detector, "a", last);
    assert.ok(ms > 200 && ms < 2000, `detected after ${ms} ms`);
  });

  it("does not let one long outage slow every later detection (a gap is not a heartbeat interval)", () => {
    const steady = new PhiAccrualDetector(options);
    const steadyMs = detectionMs(steady, "a", beat(steady, "a", 0, 200, 200));
    const detector = new PhiAccrualDetector(options);
    let t = beat(detector, "a", 0, 200, 100);
    // Frozen for 15 s (the member, or this process), then back to its rhythm for a few seconds.
    t = beat(detector, "a", t + 15_000, 200, 1);
    t = beat(detector, "a", t, 200, 15);
    assert.equal(detectionMs(detector, "a", t), steadyMs);
  });

});
