import assert from "node:assert/strict";
import { LatencyWindow } from "../../../node/replication/coordinator.js";

describe("the read latency window (when a read asks more replicas)", () => {
  it("has no percentile before its first 64 samples, then the 99th of the window", () => {
    const window = new LatencyWindow();
    for (let ms = 1; ms < 64; ms++) window.record(ms);
    assert.equal(window.p99, 0);
    for (let ms = 64; ms <= 256; ms++) window.record(ms);
    assert.equal(window.p99, 254);
  });

  it("forgets samples older than the window, so a slow spell ends", () => {
    const window = new LatencyWindow();
    for (let i = 0; i < 256; i++) window.record(1000);
    assert.equal(window.p99, 1000);
    for (let i = 0; i < 256; i++) window.record(i % 2 === 0 ? 2 : 3);
    assert.equal(window.p99, 3);
  });
});
