import assert from "node:assert/strict";
import { mergeSamples, samplesBetween, type CpuProfile } from "../../../../bench/profile/cpu-profile.js";
import { flameGraphSvg } from "../../../../bench/profile/flame-graph.js";
import { frameModule, frameModuleOfName, frameName } from "../../../../bench/profile/frame-names.js";

const frame = (functionName: string, url = "", lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0 });

/** (root) → handle (express) → read (our coordinator); (root) → (idle). Samples every 100 µs from t = 1000. */
function profile(samples: number[]): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 4] },
      { id: 2, callFrame: frame("handle", "file:///w/node_modules/express/lib/application.js", 151), children: [3] },
      { id: 3, callFrame: frame("read", "file:///w/dist/node/replication/coordinator.js", 31) },
      { id: 4, callFrame: frame("(idle)") },
    ],
    startTime: 1000,
    endTime: 1000 + 100 * samples.length,
    samples,
    timeDeltas: samples.map(() => 100),
  };
}

describe("bench:profile CPU profile reading", function () {
  it("names frames by function and place, and charges them to a package, an area of Node or a project folder", function () {
    const express = frame("handle", "file:///w/node_modules/express/lib/application.js", 151);
    assert.equal(frameName(express), "handle express/lib/application.js:152");
    assert.equal(frameModule(express), "express");
    assert.equal(frameModule(frame("read", "file:///w/dist/node/replication/coordinator.js")), "dynamo:node/replication");
    assert.equal(frameModule(frame("writev", "node:internal/stream_base_commons")), "node:stream_base_commons");
    assert.equal(frameModule(frame("(garbage collector)")), "(garbage collector)");
    assert.equal(frameModuleOfName("read node/replication/coordinator.js:32"), "dynamo:node/replication");
    assert.equal(frameModuleOfName(frameName(express)), "express");
  });

  it("folds the stacks of a window, keeps idle time apart, and charges self time to the top frame", function () {
    // Sample times: 1100 (3), 1200 (3), 1300 (2), 1400 (idle), 1500 (3); each weighs the delta to the next.
    const samples = samplesBetween(profile([3, 3, 2, 4, 3, 3]), 1150, 1450);
    assert.equal(samples.totalUs, 300);
    assert.equal(samples.idleUs, 100);
    const read = "handle express/lib/application.js:152;read node/replication/coordinator.js:32";
    assert.deepEqual([...samples.stacks], [[read, 100], ["handle express/lib/application.js:152", 100]]);
    assert.equal(samples.selfByModule.get("dynamo:node/replication"), 100);
    assert.equal(samples.selfByModule.get("express"), 100);
  });

  it("merges the nodes' samples and draws them as a flame graph with microseconds per operation", function () {
    const merged = mergeSamples([samplesBetween(profile([3, 3, 2, 3])), samplesBetween(profile([2, 2, 2, 2]))]);
    assert.equal(merged.totalUs, 600);
    assert.equal(merged.selfByModule.get("express"), 400);
    const svg = flameGraphSvg(merged.stacks, { title: "test <graph>", operations: 2 });
    assert.match(svg, /<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /300 µs of CPU per operation/);
    assert.match(svg, /test &lt;graph&gt;/);
    assert.match(svg, /read node\/replication\/coordinator\.js:32/);
  });
});
