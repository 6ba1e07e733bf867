import assert from "node:assert/strict";
import { mergePageHandlers } from "../../../node/backup/index.js";
import { DynamoError } from "../../../node/errors/index.js";
import type { DecodedEntry } from "../../../node/protocol/index.js";
import { update } from "../../../node/versioning/index.js";

const record = update(undefined, {}, { value: Buffer.from("v"), contentType: "text/plain", timestamp: { ms: 1, logical: 0 } }, "a");
const entry = (bucket: string): DecodedEntry => ({ bucket, key: Buffer.from("k"), record });

describe("merge-page on a storage node", function () {
  const merged: { partition: number; count: number }[] = [];
  const handler = mergePageHandlers({
    epoch: () => 7,
    replicates: (p) => p === 3,
    reconciliation: (b) => (b === "cart" ? "siblings" : b === "sessions" ? "lww" : undefined),
    mergeMany: async (partition, entries) => {
      merged.push({ partition, count: entries.length });
      return entries.length;
    },
  })["merge-page"];

  it("merges a page of a partition it replicates, each record with its bucket's mode", async function () {
    const answer = await handler({ header: { partition: 3 }, body: [entry("cart"), entry("sessions")] } as never, "dynamo-backup");
    assert.deepEqual(answer, { header: { changed: 2, epoch: 7 } });
    assert.deepEqual(merged, [{ partition: 3, count: 2 }]);
  });

  it("refuses a partition it does not replicate, so the sender routes the page again", async function () {
    await assert.rejects(handler({ header: { partition: 4 }, body: [entry("cart")] } as never, "dynamo-backup"), (err: unknown) => err instanceof DynamoError && err.code === "not_ready" && /epoch 7/.test(err.message));
  });

  it("refuses the whole page when a record's bucket is unknown, storing nothing of it", async function () {
    merged.length = 0;
    await assert.rejects(handler({ header: { partition: 3 }, body: [entry("cart"), entry("nope")] } as never, "dynamo-backup"), (err: unknown) => err instanceof DynamoError && err.code === "unknown_bucket");
    assert.deepEqual(merged, []);
  });
});
