import assert from "node:assert/strict";
import { CounterRates, counterRate, sumSamples } from "../../../../operator/custom-metrics/index.js";

const OPTIONS = { windowMs: 30_000, minSpanMs: 1_000, maxSamplesPerSeries: 8, maxSeries: 3 };

describe("custom metrics API: rates from the nodes' counters", () => {
  it("sums one metric family's samples over all labels, and nothing else", () => {
    const text = [
      "# HELP dynamo_requests_total Client requests by operation and HTTP status",
      "# TYPE dynamo_requests_total counter",
      'dynamo_requests_total{op="get",status="200"} 120',
      'dynamo_requests_total{op="put",status="503"} 3 1700000000000',
      'dynamo_requests_total_other{op="get"} 1000',
      'dynamo_request_duration_seconds_count{op="get"} 77',
      'dynamo_requests_total{op="we{ird}",note="a \\"quoted\\" } brace"} 2.5',
      "dynamo_storage_bytes 4096",
    ].join("\n");
    assert.equal(sumSamples(text, "dynamo_requests_total"), 125.5);
    assert.equal(sumSamples(text, "dynamo_storage_bytes"), 4096);
    assert.equal(sumSamples(text, "dynamo_hints"), undefined);
    assert.throws(() => sumSamples('dynamo_hints{x="1"} NaN', "dynamo_hints"), /no numeric value/);
    assert.throws(() => sumSamples('dynamo_hints{x="1 7', "dynamo_hints"), /unclosed label set/);
  });

  it("computes a counter's rate over its samples, counting across a reset as Prometheus does", () => {
    assert.deepEqual(counterRate([{ tMs: 0, value: 100 }, { tMs: 10_000, value: 600 }]), { perSecond: 50, windowSeconds: 10, atMs: 10_000 });
    // The node restarted between the second and third samples: its counter began again from 0 and reached 40.
    assert.equal(counterRate([{ tMs: 0, value: 100 }, { tMs: 5_000, value: 300 }, { tMs: 10_000, value: 40 }])!.perSecond, 24);
    assert.equal(counterRate([{ tMs: 0, value: 1 }]), undefined);
    assert.equal(counterRate([{ tMs: 5, value: 1 }, { tMs: 5, value: 9 }]), undefined);
  });

  it("keeps a window of samples per series: no rate from one sample, from samples too close, or across a long gap", () => {
    const rates = new CounterRates(OPTIONS);
    rates.record("pod-a", { tMs: 0, value: 0 });
    assert.equal(rates.rate("pod-a"), undefined, "one sample");
    rates.record("pod-a", { tMs: 500, value: 10 });
    assert.equal(rates.rate("pod-a"), undefined, "half a second is too short a span");
    rates.record("pod-a", { tMs: 10_000, value: 1_000 });
    assert.equal(rates.rate("pod-a")!.perSecond, 100);
    rates.record("pod-a", { tMs: 40_000, value: 1_300 });
    // The samples at 0 and 0.5 s left the window: the rate spans 10 s .. 40 s.
    assert.deepEqual(rates.rate("pod-a"), { perSecond: 10, windowSeconds: 30, atMs: 40_000 });
    // Not sampled for ten minutes: an old sample says nothing about now, so the series starts over.
    rates.record("pod-a", { tMs: 640_000, value: 9_999 });
    assert.equal(rates.rate("pod-a"), undefined);
    // A sample older than the newest is ignored.
    rates.record("pod-a", { tMs: 1_000, value: 0 });
    assert.equal(rates.newest("pod-a")!.tMs, 640_000);
  });

  it("bounds the samples of a series and the number of series, and forgets the series of pods that are gone", () => {
    const rates = new CounterRates(OPTIONS);
    for (let i = 0; i < 20; i++) rates.record("a", { tMs: i * 1_000, value: i * 5 });
    assert.deepEqual(rates.rate("a"), { perSecond: 5, windowSeconds: 7, atMs: 19_000 }, "the eight newest samples");
    rates.record("b", { tMs: 0, value: 0 });
    rates.record("c", { tMs: 0, value: 0 });
    rates.record("d", { tMs: 0, value: 0 });
    assert.equal(rates.size, 3);
    assert.equal(rates.newest("a"), undefined, "the oldest series made room");
    rates.retain(new Set(["c"]));
    assert.equal(rates.size, 1);
    assert.ok(rates.newest("c"));
  });
});
