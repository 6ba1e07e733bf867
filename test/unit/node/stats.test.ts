import assert from "node:assert/strict";
import { buildOverview, clusterHistory, memberCondition } from "../../../node/console/index.js";
import { LATENCY_BUCKETS_S } from "../../../node/metrics/index.js";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { lateMs, NodeHistory, quantileMs, type CounterSnapshot, type NodeStats } from "../../../node/stats/index.js";
import { createRing } from "../../../node/ring/index.js";

/** A snapshot with `n` requests of each op so far, all of them within the 5 ms bucket, at time t (s). */
function snap(t: number, n: number, extra: Partial<CounterSnapshot> = {}): CounterSnapshot {
  const buckets = LATENCY_BUCKETS_S.map((bound) => (bound >= 0.005 ? n : 0)).concat(n);
  return {
    t: t * 1000,
    requests: { get: n, put: n, delete: 0 },
    errors: { get: 0, put: 0, delete: 0 },
    buckets: { get: buckets, put: buckets, delete: LATENCY_BUCKETS_S.map(() => 0).concat(0) },
    antiEntropy: { exchanges: t, repaired: 0, failed: 0, keysRepaired: 0 },
    handoffBytes: 0,
    ...extra,
  };
}

describe("node stats", () => {
  it("reports event-loop delay beyond the sampling interval, which Node's readings include", async () => {
    // Node records the whole time between two ticks of its sampling timer: an idle loop reads the interval itself.
    // Were that ever to change, lateMs would under-report every delay by the interval.
    const monitor = monitorEventLoopDelay({ resolution: 20 });
    monitor.enable();
    await new Promise((resolve) => setTimeout(resolve, 300));
    monitor.disable();
    assert.ok(monitor.min >= 19e6, `an idle loop's shortest reading is the 20 ms interval, got ${monitor.min / 1e6} ms`);
    assert.ok(lateMs(monitor.min) < 10, `and reads as a tick a little late at most, got ${lateMs(monitor.min)} ms`);
    assert.equal(lateMs(20e6), 0);
    assert.equal(lateMs(20.1e6), 0.1);
    assert.equal(lateMs(15e6), 0, "never below 0");
    assert.equal(lateMs(25.5e6), 5.5);
    assert.equal(lateMs(270e6), 250, "a tick 250 ms late");
  });

  it("turns counter snapshots into rates and latency quantiles per step", () => {
    const h = new NodeHistory();
    h.add(snap(0, 0));
    h.add(snap(5, 50));
    h.add(snap(10, 150));
    const points = h.points();
    assert.equal(points.length, 2);
    assert.deepEqual(points[1]!.opsPerSecond, { get: 20, put: 20, delete: 0 });
    // Everything fell between 2 and 5 ms: the median interpolates to the middle of that bucket.
    assert.equal(points[1]!.p50Ms, 3.5);
    const totals = h.totals(10_000)!;
    assert.equal(totals.windowSeconds, 10);
    assert.equal(totals.requests.get, 150);
  });

  it("keeps a bounded history: 15 minutes of fine snapshots and an hour of coarse ones", () => {
    const h = new NodeHistory();
    for (let t = 0; t <= 2 * 3600; t += 5) h.add(snap(t, t));
    assert.ok(h.points().length <= 15 * 12 + 1, `${h.points().length} points`);
    const hour = h.totals(3600_000)!;
    assert.ok(hour.windowSeconds >= 3540 && hour.windowSeconds <= 3600, `window ${hour.windowSeconds}`);
    assert.equal(hour.antiEntropy.exchanges, hour.windowSeconds, "anti-entropy totals cover the last hour");
  });

  it("computes quantiles as histogram_quantile does, and none without observations", () => {
    const cumulative = LATENCY_BUCKETS_S.map((b) => (b >= 0.01 ? 100 : b >= 0.001 ? 50 : 0));
    assert.equal(quantileMs(cumulative, 100, 0.25), 0.75);
    assert.equal(quantileMs(cumulative, 100, 0.99), 9.9);
    assert.equal(quantileMs(cumulative, 0, 0.5), undefined);
  });

  it("reads a member as down, rebuilding, leaving, joining, suspect or up, in that order of importance", () => {
    assert.equal(memberCondition("valid", { up: false, phi: 20 }, 8, true), "down");
    assert.equal(memberCondition("leaving", { up: true, phi: 0 }, 8, true), "rebuilding");
    assert.equal(memberCondition("leaving", { up: true, phi: 0 }, 8, false), "leaving");
    assert.equal(memberCondition("joining", { up: true, phi: 0 }, 8, false), "joining");
    assert.equal(memberCondition("valid", { up: true, phi: 5 }, 8, false), "suspect");
    assert.equal(memberCondition("valid", { up: true, phi: 1 }, 8, false), "up");
  });

  it("builds the console's overview: owners, ideal shares, moves with their state, rebalance progress", () => {
    const members = ["a", "b", "c", "d"].map((id) => ({ id, peerUrl: "", clientUrl: "", incarnation: `i-${id}`, state: "valid" as const }));
    const base = createRing({ partitions: 16, members: members.slice(0, 3), targetN: 3 });
    const ring = { ...base, epoch: 3, members: { ...base.members, d: { ...members[3]!, state: "joining" as const } }, pending: [{ partition: 0, from: "a", to: "d", kind: "ownership" as const }, { partition: 5, from: "b", to: "d", kind: "ownership" as const }] };
    const dStats: NodeStats = {
      id: "d",
      incarnation: "i-d",
      epoch: 3,
      ready: true,
      uptimeSeconds: 1,
      disk: { dataBytes: 0 },
      memory: { rssBytes: 0, heapUsedBytes: 0 },
      eventLoopLagMs: { p50: 0, p99: 0, max: 0 },
      rates: { windowSeconds: 10, opsPerSecond: { get: 0, put: 0, delete: 0, total: 0 }, errorsPerSecond: 0, latencyMs: { get: {}, put: {}, delete: {} } },
      hints: { count: 0, bytes: 0, byTarget: {} },
      antiEntropy: { windowSeconds: 3600, exchanges: 0, repaired: 0, failed: 0, keysRepaired: 0 },
      rebuildingPartitions: 0,
      transfers: [{ partition: 0, from: "a", to: "d", kind: "ownership", state: "done", keys: 3, bytes: 300, startedAt: 1000 }],
      history: [],
    };
    const o = buildOverview({ self: "a", ring, liveness: (id) => ({ up: id !== "c", phi: 0 }), phiThreshold: 8, stats: new Map<string, NodeStats | { error: string }>([["d", dStats], ["c", { error: "down" }]]), nowMs: 2000 });
    assert.equal(o.members.length, 4);
    assert.deepEqual(o.members.map((m) => m.condition), ["up", "up", "down", "joining"]);
    assert.equal(o.members.reduce((sum, m) => sum + m.partitions, 0), 16);
    assert.equal(o.members[0]!.idealPartitions, 4);
    assert.deepEqual(o.moves.map((m) => [m.partition, m.state, m.bytes]), [[0, "done", 300], [5, "waiting", 0]]);
    assert.equal(o.rebalance?.percent, 50);
    assert.equal(o.members[2]!.error, "down");
  });

  it("sums members' rates step by step and keeps the slowest member's latency", () => {
    const p = (t: number, get: number, p99: number) => ({ t, opsPerSecond: { get, put: 0, delete: 0 }, errorsPerSecond: 0, p50Ms: 1, p99Ms: p99, handoffBytesPerSecond: 0 });
    const merged = clusterHistory([[p(10_000, 5, 3), p(15_000, 5, 3)], [p(10_400, 7, 9)]]);
    assert.deepEqual(merged.map((x) => [x.t, x.opsPerSecond.get, x.p99Ms]), [[10_000, 12, 9], [15_000, 5, 3]]);
  });
});
