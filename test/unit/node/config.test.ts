import assert from "node:assert/strict";
import { DEFAULT_TUNING, parseNodeConfig } from "../../../node/config/index.js";

describe("node configuration", function () {
  it("does not fsync each write unless syncWrites asks for it", function () {
    assert.equal(DEFAULT_TUNING.syncWrites, false);
    assert.equal(parseNodeConfig({}).tuning.syncWrites, false);
    assert.equal(parseNodeConfig({ tuning: { syncWrites: true } }).tuning.syncWrites, true);
  });

  it("refuses a syncWrites that is not a boolean, naming it", function () {
    assert.throws(() => parseNodeConfig({ tuning: { syncWrites: "yes" } }), /tuning\.syncWrites/);
  });
});
