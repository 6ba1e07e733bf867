import assert from "node:assert/strict";
import { median } from "../../../bench/stats.js";

describe("benchmark statistics", () => {
  it("takes the middle value, the mean of the two middle ones for an even count, in any order", () => {
    assert.equal(median([3]), 3);
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([2.44, 1.7, 1.65]), 1.7);
    assert.ok(Number.isNaN(median([])));
  });

  it("leaves its input as it was", () => {
    const values = [3, 1, 2];
    median(values);
    assert.deepEqual(values, [3, 1, 2]);
  });
});
