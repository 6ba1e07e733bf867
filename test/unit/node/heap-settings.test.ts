import assert from "node:assert/strict";
import { applyNodeHeapSettings, NODE_HEAP_GROWING_FLAG } from "../../../node/main.js";

describe("a storage node's heap settings", function () {
  it("lets the old generation grow to four times what a full collection left", function () {
    assert.equal(NODE_HEAP_GROWING_FLAG, "--heap-growing-percent=300");
    assert.equal(applyNodeHeapSettings([]), true);
  });

  it("keeps a growing factor the node was started with", function () {
    assert.equal(applyNodeHeapSettings(["--heap-growing-percent=50"]), false);
    assert.equal(applyNodeHeapSettings(["--max-semi-space-size=16", "--heap_growing_percent=50"]), false);
    assert.equal(applyNodeHeapSettings(["--max-semi-space-size=16", "--max-old-space-size=512"]), true);
  });
});
