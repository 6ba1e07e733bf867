import assert from "node:assert/strict";
import { PAGE_RECORDS_MIN, pageLimit } from "../../../node/handoff/index.js";

describe("the size of a streamed page", function () {
  it("asks for the minimum until a page has shown the records' size, and for the batch without a pace", function () {
    assert.equal(pageLimit(256 * 1024, { records: 0, bytes: 0 }, 2000), PAGE_RECORDS_MIN);
    assert.equal(pageLimit(undefined, { records: 500, bytes: 512_000 }, 2000), 2000);
  });

  it("asks for one pace window's worth of records by their mean size, within the batch", function () {
    // 1 KiB records: a 256 KiB window (1 MiB/s for 250 ms) is 256 records; a 2 MiB window is the whole batch.
    assert.equal(pageLimit(256 * 1024, { records: 1000, bytes: 1024 * 1000 }, 2000), 256);
    assert.equal(pageLimit(2 * 1024 * 1024, { records: 1000, bytes: 1024 * 1000 }, 2000), 2000);
    // Large records: never fewer than the minimum, however slow the pace.
    assert.equal(pageLimit(256 * 1024, { records: 10, bytes: 10 * 1024 * 1024 }, 2000), PAGE_RECORDS_MIN);
    // A batch configured below the minimum is kept.
    assert.equal(pageLimit(256 * 1024, { records: 10, bytes: 10 * 1024 * 1024 }, 10), 10);
  });
});
