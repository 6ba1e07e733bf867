import assert from "node:assert/strict";
import { PAGE_RECORDS_MIN, pageLimit, streamPartition } from "../../../node/handoff/index.js";
import type { PeerClient } from "../../../node/peer/index.js";

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

describe("a copy's first page", function () {
  /** A source that serves `records` records of 1 KiB per partition, noting the limit each scan asked for. */
  function source(records: number) {
    const asked: number[] = [];
    const served = new Map<number, number>();
    const client = {
      call: async (_op: string, request: { header: { partition: number; limit: number } }) => {
        const { partition, limit } = request.header;
        asked.push(limit);
        const from = served.get(partition) ?? 0;
        const count = Math.min(limit, records - from);
        served.set(partition, from + count);
        const body = Array.from({ length: count }, () => ({}));
        return { header: { done: from + count >= records, last: { bucket: "b", key: Buffer.from(String(from + count)) } }, body, bodyBytes: count * 1024 };
      },
    };
    return { client: client as unknown as PeerClient, asked };
  }

  function copy(client: PeerClient, partition: number, lastPage?: { records: number; bytes: number }) {
    return streamPartition(client, {
      partition,
      cursor: undefined,
      batchMax: 2000,
      pageBytes: () => 400 * 1024,
      lastPage,
      mergePage: async () => undefined,
      onPage: () => undefined,
      shouldStop: () => false,
    });
  }

  it("is sized by the last page any copy received, so a small partition comes in one round trip", async function () {
    const { client, asked } = source(300);
    const lastPage = { records: 0, bytes: 0 };
    assert.equal(await copy(client, 1, lastPage), true);
    // The node's first copy knows no size yet: the minimum, then the rest in one window's worth.
    assert.deepEqual(asked, [PAGE_RECORDS_MIN, 400]);
    asked.length = 0;
    assert.equal(await copy(client, 2, lastPage), true);
    assert.deepEqual(asked, [400], "the second copy asks for a window's worth at once");
    assert.deepEqual(lastPage, { records: 300, bytes: 300 * 1024 });
  });

  it("starts at the minimum without a shared size", async function () {
    const { client, asked } = source(300);
    await copy(client, 1);
    await copy(client, 2);
    assert.deepEqual(asked, [PAGE_RECORDS_MIN, 400, PAGE_RECORDS_MIN, 400]);
  });
});
