import assert from "node:assert/strict";
import { RecentMap } from "../../../lib/recent-map.js";

describe("recent map", function () {
  it("keeps the most recently used entries within its bound, reads counting as use", function () {
    const map = new RecentMap<string, number>(2);
    map.set("a", 1);
    map.set("b", 2);
    assert.equal(map.get("a"), 1, "a is now the most recent");
    map.set("c", 3);
    assert.equal(map.size, 2);
    assert.equal(map.get("b"), undefined, "b, the least recently used, went");
    assert.equal(map.get("a"), 1);
    assert.equal(map.get("c"), 3);
    map.set("c", 4);
    assert.equal(map.size, 2, "writing a key again replaces it");
    assert.equal(map.get("c"), 4);
  });
});
