import assert from "node:assert/strict";
import { describeProgress, formatBytes, formatDuration, percentMoved, rebalanceProgress, type TransferReportEntry } from "../../../node/ring/index.js";
import type { Transfer } from "../../../node/ring/types.js";

const pending: Transfer[] = [0, 1, 2, 3].map((p) => ({ partition: p, from: "a", to: p % 2 ? "d" : "e", kind: "ownership" }));
const ring = { epoch: 7, pending };
const T0 = 1_000_000;

describe("ring: rebalance progress", () => {
  it("counts nothing moved and no rate before any receiver reports", () => {
    const p = rebalanceProgress(ring, [], T0);
    assert.equal(p.epoch, 7);
    assert.equal(p.partitionsTotal, 4);
    assert.equal(p.partitionsMoved, 0);
    assert.equal(p.bytesMoved, 0);
    assert.equal(p.startedAtMs, undefined);
    assert.equal(p.etaSeconds, undefined);
    assert.deepEqual(p.receivers, ["d", "e"]);
    assert.equal(percentMoved(p), 0);
  });

  it("sums bytes of done and running transfers, starts at the earliest transfer, and extrapolates the total and ETA", () => {
    const reports: TransferReportEntry[] = [
      { partition: 0, to: "e", state: "done", keys: 10, bytes: 1000, startedAt: T0, finishedAt: T0 + 2000 },
      { partition: 1, to: "d", state: "active", keys: 3, bytes: 400, startedAt: T0 + 500 },
      { partition: 2, to: "e", state: "waiting", keys: 0, bytes: 0 },
    ];
    const p = rebalanceProgress(ring, reports, T0 + 4000);
    assert.equal(p.partitionsMoved, 1);
    assert.equal(p.partitionsActive, 1);
    assert.equal(p.bytesMoved, 1400);
    assert.equal(p.keysMoved, 13);
    assert.equal(p.startedAtMs, T0);
    // Three partitions not done, each taken as large as the average done one (1000 bytes): 1000 + 3 × 1000.
    assert.equal(p.bytesTotalEstimate, 4000);
    assert.equal(p.bytesPerSecond, 350);
    // (4000 - 1400) / 350 = 7.4 s, rounded up.
    assert.equal(p.etaSeconds, 8);
    assert.equal(percentMoved(p), 25);
    assert.equal(describeProgress(p), "moved 1/4 partitions, 1.4 KiB of ~3.9 KiB at 350 B/s, ETA 8s");
  });

  it("ignores reports of transfers the plan does not hold (an abandoned plan's, or another receiver's)", () => {
    const p = rebalanceProgress(ring, [{ partition: 0, to: "d", state: "done", bytes: 99 }, { partition: 9, to: "e", state: "done", bytes: 99 }], T0);
    assert.equal(p.partitionsMoved, 0);
    assert.equal(p.bytesMoved, 0);
  });

  it("extrapolates from partitions when nothing has bytes (an empty cluster), and reaches 100% only when all are done", () => {
    const reports: TransferReportEntry[] = pending.slice(0, 3).map((t) => ({ partition: t.partition, to: t.to, state: "done", bytes: 0, startedAt: T0 }));
    const p = rebalanceProgress(ring, reports, T0 + 3000);
    assert.equal(p.etaSeconds, 1, "one partition left at one partition per second");
    assert.equal(percentMoved(p), 75);
    assert.equal(percentMoved({ partitionsMoved: 999, partitionsTotal: 1000 }), 99, "never 100% before the last one");
    const all = rebalanceProgress(ring, [...reports, { partition: 3, to: "d", state: "done", bytes: 0, startedAt: T0 }], T0 + 4000);
    assert.equal(percentMoved(all), 100);
    assert.equal(all.etaSeconds, 0);
  });

  it("measures the rate of a finished plan up to its last transfer's end, not up to when it was looked at", () => {
    const reports: TransferReportEntry[] = pending.map((t, i) => ({ partition: t.partition, to: t.to, state: "done", bytes: 1000, startedAt: T0 + i * 100, finishedAt: T0 + 1000 + i * 250 }));
    // 4000 bytes from T0 to T0 + 1750, seen 5 s later.
    assert.equal(rebalanceProgress(ring, reports, T0 + 6750).bytesPerSecond, Math.round(4000 / 1.75));
  });

  it("formats sizes and durations for people", () => {
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(1536), "1.5 KiB");
    assert.equal(formatBytes(200 * 1024 * 1024), "200 MiB");
    assert.equal(formatDuration(42), "42s");
    assert.equal(formatDuration(75), "1m15s");
    assert.equal(formatDuration(120), "2m");
    assert.equal(formatDuration(3725), "1h2m");
  });
});
