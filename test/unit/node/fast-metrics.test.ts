import assert from "node:assert/strict";
import { Counter, Histogram, Registry } from "prom-client";
import { FastCounter, FastHistogram } from "../../../node/metrics/fast.js";
import { LATENCY_BUCKETS_S, NodeMetrics } from "../../../node/metrics/index.js";
import { seededRandom } from "../../../lib/random.js";
import { testSeed } from "../../helpers/random.js";

/**
 * The request metrics are kept outside prom-client for speed; scrapers, dashboards, alerts and the operator's custom
 * metrics read them, so they must expose exactly what prom-client's own counter and histogram would.
 */
describe("request metrics kept in plain fields", function () {
  it("expose the same text as prom-client's counter and histogram after the same random requests (seeded)", async function () {
    const seed = testSeed("request metrics");
    const rng = seededRandom(seed);
    const random = () => rng.next();
    const ours = new Registry();
    const theirs = new Registry();
    const counter = new FastCounter(ours, "t_requests_total", "Requests by op and status");
    const histogram = new FastHistogram(ours, "t_duration_seconds", "Latency by op", LATENCY_BUCKETS_S, { labelled: true });
    const unlabelled = new FastHistogram(ours, "t_siblings", "Siblings", [1, 2, 3, 5, 10], { labelled: false });
    const pCounter = new Counter({ name: "t_requests_total", help: "Requests by op and status", labelNames: ["op", "status"], registers: [theirs] });
    const pHistogram = new Histogram({ name: "t_duration_seconds", help: "Latency by op", labelNames: ["op"], buckets: LATENCY_BUCKETS_S, registers: [theirs] });
    const pUnlabelled = new Histogram({ name: "t_siblings", help: "Siblings", buckets: [1, 2, 3, 5, 10], registers: [theirs] });
    assert.equal(await ours.metrics(), await theirs.metrics(), `before any request (seed ${seed})`);

    const ops = ["get", "put", "delete"];
    const statuses = ["200", "204", "300", "404", "503"];
    for (let i = 0; i < 2000; i++) {
      const op = ops[Math.floor(random() * ops.length)]!;
      const status = statuses[Math.floor(random() * statuses.length)]!;
      // Values on and around the bounds, where an off-by-one in the bucket search would show.
      const bound = LATENCY_BUCKETS_S[Math.floor(random() * LATENCY_BUCKETS_S.length)]!;
      const seconds = random() < 0.3 ? bound : random() * 12;
      counter.labels({ op, status }).inc();
      pCounter.labels({ op, status }).inc();
      histogram.labels({ op }).observe(seconds);
      pHistogram.labels({ op }).observe(seconds);
      const siblings = 1 + Math.floor(random() * 12);
      unlabelled.observe(siblings);
      pUnlabelled.observe(siblings);
    }
    assert.equal(await ours.metrics(), await theirs.metrics(), `after 2 000 requests (seed ${seed})`);
    assert.deepEqual(await histogram.get(), (({ name, help, type, values, aggregator }) => ({ name, help, type, values: values.map(({ labels, value, metricName }) => ({ labels, value, metricName })), aggregator }))(await pHistogram.get()));

    ours.resetMetrics();
    theirs.resetMetrics();
    assert.equal(await ours.metrics(), await theirs.metrics(), `after a reset (seed ${seed})`);
    // A child kept from before the reset counts on, as prom-client's does.
    const kept = counter.labels({ op: "get", status: "200" });
    const pKept = pCounter.labels({ op: "get", status: "200" });
    ours.resetMetrics();
    theirs.resetMetrics();
    kept.inc();
    pKept.inc();
    histogram.labels({ op: "put" }).observe(0.001);
    pHistogram.labels({ op: "put" }).observe(0.001);
    assert.equal(await ours.metrics(), await theirs.metrics(), `counting on after a reset (seed ${seed})`);
  });

  it("are what a node's /metrics shows for its requests", async function () {
    const metrics = new NodeMetrics();
    metrics.requests.labels({ op: "put", status: "204" }).inc();
    metrics.requestDuration.labels({ op: "get" }).observe(0.003);
    const text = await metrics.text();
    assert.match(text, /^dynamo_requests_total\{op="put",status="204"\} 1$/m);
    assert.match(text, /^dynamo_request_duration_seconds_bucket\{le="0.002",op="get"\} 0$/m);
    assert.match(text, /^dynamo_request_duration_seconds_bucket\{le="0.005",op="get"\} 1$/m);
    assert.match(text, /^dynamo_request_duration_seconds_count\{op="get"\} 1$/m);
    assert.match(text, /^# TYPE dynamo_siblings histogram$/m);
  });
});
