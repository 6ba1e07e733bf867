/**
 * The sending side of partition streaming (rebuilds and ownership handoff): serves `scan`, one page of a partition's
 * records after a cursor, read from disk and shipped in their stored encoding. A page holds at most the records the
 * caller asks for (and SCAN_LIMIT_MAX) and stops once it passes `pageBytesMax`, so with records bounded in size a page
 * always fits in one frame.
 */
import type { PeerHandlers } from "../protocol/index.js";
import type { Store } from "../storage/index.js";

export function partitionSourceHandlers(store: Store, pageBytesMax: number): Pick<PeerHandlers, "scan"> {
  return {
    scan: async ({ header }) => {
      const { entries, done } = await store.scanPartitionRaw(header.partition, header.after, header.limit, pageBytesMax);
      return { header: { done }, body: entries };
    },
  };
}
