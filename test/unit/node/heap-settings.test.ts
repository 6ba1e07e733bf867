import assert from "node:assert/strict";
import { COMPILER_FLAG, compilerFlags } from "../../../dev/supervisor.js";
import { applyNodeHeapSettings, NODE_HEAP_GROWING_FLAG } from "../../../node/main.js";

describe("a storage node's V8 settings", function () {
  it("lets the old generation grow to four times what a full collection left", function () {
    assert.equal(NODE_HEAP_GROWING_FLAG, "--heap-growing-percent=300");
    assert.equal(applyNodeHeapSettings([]), true);
  });

  it("keeps a growing factor the node was started with", function () {
    assert.equal(applyNodeHeapSettings(["--heap-growing-percent=50"]), false);
    assert.equal(applyNodeHeapSettings(["--max-semi-space-size=16", "--heap_growing_percent=50"]), false);
    assert.equal(applyNodeHeapSettings(["--max-semi-space-size=16", "--max-old-space-size=512"]), true);
  });

  it("leaves V8's Maglev tier out of the nodes `dynamo dev` starts, unless it was told otherwise", function () {
    assert.equal(COMPILER_FLAG, "--no-maglev");
    assert.deepEqual(compilerFlags(["--max-semi-space-size=16"]), ["--no-maglev"]);
    assert.deepEqual(compilerFlags(["--maglev"]), []);
    assert.deepEqual(compilerFlags(["--no-maglev"]), []);
  });
});
