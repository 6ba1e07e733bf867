import assert from "node:assert/strict";
import { DEFAULT_TUNING, handoffFloorBytesPerSecond, parseNodeConfig } from "../../../node/config/index.js";

describe("node configuration", function () {
  it("does not fsync each write unless syncWrites asks for it", function () {
    assert.equal(DEFAULT_TUNING.syncWrites, false);
    assert.equal(parseNodeConfig({}).tuning.syncWrites, false);
    assert.equal(parseNodeConfig({ tuning: { syncWrites: true } }).tuning.syncWrites, true);
  });

  it("refuses a syncWrites that is not a boolean, naming it", function () {
    assert.throws(() => parseNodeConfig({ tuning: { syncWrites: "yes" } }), /tuning\.syncWrites/);
  });

  it("streams at least 256 KiB/s per node under load unless handoffFloorBytesPerSecond or a lower ceiling says otherwise", function () {
    assert.equal(handoffFloorBytesPerSecond(DEFAULT_TUNING), 256 * 1024);
    assert.equal(handoffFloorBytesPerSecond(parseNodeConfig({ tuning: { handoffFloorBytesPerSecond: 4_000_000 } }).tuning), 4_000_000);
    // A ceiling below the floor is a rate the operator asked never to exceed; it wins.
    assert.equal(handoffFloorBytesPerSecond(parseNodeConfig({ tuning: { handoffBytesPerSecond: 100_000 } }).tuning), 100_000);
  });

  it("refuses a handoff floor under 1 KiB/s, naming it", function () {
    assert.throws(() => parseNodeConfig({ tuning: { handoffFloorBytesPerSecond: 10 } }), /tuning\.handoffFloorBytesPerSecond/);
  });
});
