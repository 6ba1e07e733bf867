import assert from "node:assert/strict";
import { DEFAULT_BENCH_OPTIONS, parseBenchOptions } from "../../../../bench/ycsb/options.js";

describe("npm run bench's options", function () {
  it("warm each side up until its CPU per operation settles by default, for at most the seconds given, or not at all", function () {
    assert.equal(parseBenchOptions([])!.systemWarmupSeconds, DEFAULT_BENCH_OPTIONS.systemWarmupSeconds);
    assert.ok(DEFAULT_BENCH_OPTIONS.systemWarmupSeconds >= 30, "room for the three slices that can show a settled cost");
    assert.equal(parseBenchOptions(["--system-warmup-seconds", "0"])!.systemWarmupSeconds, 0);
    assert.equal(parseBenchOptions(["--system-warmup-seconds", "12.5"])!.systemWarmupSeconds, 12.5);
    assert.throws(() => parseBenchOptions(["--system-warmup-seconds=-1"]), /--system-warmup-seconds must be .* at least 0, got '-1'/);
  });
});
