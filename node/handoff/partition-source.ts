/**
 * The sending side of partition streaming (rebuilds and ownership handoff): serves `scan`, one page of a partition's
 * records after a cursor, read from disk and shipped in their stored encoding. A page holds at most the records the
 * caller asks for (and SCAN_LIMIT_MAX) and stops once it passes `pageBytesMax`, so with every record within the
 * replication ceiling a page always fits in one frame. A record stored over the ceiling (written before records
 * were bounded) cannot travel at all: it is left out and reported, and the page's cursor still moves past it.
 */
import type { PeerHandlers } from "../protocol/index.js";
import type { Store } from "../storage/index.js";

export interface PartitionSourceOptions {
  pageBytesMax: number;
  /** False while this node rebuilds the partition (its copy may lack writes); told to the reader with each page. */
  canVote: (partition: number) => boolean;
  /** This node's ring epoch, told to the reader with each page. */
  epoch: () => number;
  /** Records larger than this are left out of every page. */
  recordBytesMax: number;
  skipped: (message: string) => void;
  /** Waits until a page of this many bytes may be sent (the node's streaming pace). */
  pace?: (bytes: number) => Promise<void>;
}

export function partitionSourceHandlers(store: Store, options: PartitionSourceOptions): Pick<PeerHandlers, "scan"> {
  return {
    scan: async ({ header }) => {
      const page = await store.scanPartitionRaw(header.partition, header.after, header.limit, options.pageBytesMax);
      const entries = page.entries.filter((e) => e.record.length <= options.recordBytesMax);
      if (entries.length < page.entries.length) {
        options.skipped(`left ${page.entries.length - entries.length} records of partition ${header.partition} over ${options.recordBytesMax} bytes out of a stream: they cannot fit in a peer frame`);
      }
      await options.pace?.(page.entries.reduce((sum, e) => sum + e.key.length + e.record.length, 0));
      return { header: { done: page.done, last: page.last, canVote: options.canVote(header.partition), epoch: options.epoch() }, body: entries };
    },
  };
}
