import assert from "node:assert/strict";
import { retentionFrom } from "../../../cli/backup-commands.js";
import { UsageError } from "../../../lib/command-line.js";

describe("dynamo backup retention flags", () => {
  it("reads --keep-last and --max-age, and nothing when neither is given", () => {
    assert.equal(retentionFrom({}), undefined);
    assert.deepEqual(retentionFrom({ "keep-last": "7" }), { keepLast: 7 });
    assert.deepEqual(retentionFrom({ "max-age": "30d" }), { maxAge: "30d", maxAgeMs: 30 * 86_400_000 });
    assert.deepEqual(retentionFrom({ "keep-last": "2", "max-age": "90m" }), { keepLast: 2, maxAge: "90m", maxAgeMs: 90 * 60_000 });
  });

  it("refuses a count below one and an age that is not days, hours or minutes", () => {
    assert.throws(() => retentionFrom({ "keep-last": "0" }), UsageError);
    assert.throws(() => retentionFrom({ "max-age": "30" }), /30d, 12h or 90m/);
    assert.throws(() => retentionFrom({ "max-age": "1w" }), UsageError);
  });
});
