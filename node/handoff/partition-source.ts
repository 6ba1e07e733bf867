/**
 * The sending side of partition streaming (rebuilds and ownership handoff): serves `scan`, one page of a partition's
 * records after a cursor, read from disk and shipped in their stored encoding, and `scan-many`, one page of several
 * partitions, each after its own cursor. A page holds at most the records the
 * caller asks for (and SCAN_LIMIT_MAX) and stops once it passes `pageBytesMax`, so with every record within the
 * replication ceiling a page always fits in one frame. A record stored over the ceiling (written before records
 * were bounded) cannot travel at all: it is left out and reported, and the page's cursor still moves past it.
 */
import type { PeerHandlers, RawEntry } from "../protocol/index.js";
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

export function partitionSourceHandlers(store: Store, options: PartitionSourceOptions): Pick<PeerHandlers, "scan" | "scan-many"> {
  /** One partition's records after a cursor, within the page's bounds, with the ones that cannot travel left out. */
  const read = async (partition: number, after: { bucket: string; key: Buffer } | undefined, limit: number, bytesMax: number) => {
    const page = await store.scanPartitionRaw(partition, after, limit, bytesMax);
    const entries = page.entries.filter((e) => e.record.length <= options.recordBytesMax);
    if (entries.length < page.entries.length) {
      options.skipped(`left ${page.entries.length - entries.length} records of partition ${partition} over ${options.recordBytesMax} bytes out of a stream: they cannot fit in a peer frame`);
    }
    const bytes = page.entries.reduce((sum, e) => sum + e.key.length + e.record.length, 0);
    return { entries, done: page.done, last: page.last, read: page.entries.length, bytes };
  };
  return {
    scan: async ({ header }) => {
      const page = await read(header.partition, header.after, header.limit, options.pageBytesMax);
      await options.pace?.(page.bytes);
      return { header: { done: page.done, last: page.last, canVote: options.canVote(header.partition), epoch: options.epoch() }, body: page.entries };
    },
    // The partitions in the order asked, each from its cursor, until the page holds `limit` records or passes the
    // byte bound; like a scan's, the page passes that bound by one record at most.
    "scan-many": async ({ header }) => {
      const parts: { partition: number; count: number; done: boolean; last?: { bucket: string; key: Buffer } }[] = [];
      const body: RawEntry[] = [];
      let records = 0;
      let bytes = 0;
      for (const part of header.parts) {
        if (records >= header.limit || bytes >= options.pageBytesMax) break;
        const page = await read(part.partition, part.after, header.limit - records, options.pageBytesMax - bytes);
        parts.push({ partition: part.partition, count: page.entries.length, done: page.done, last: page.last ?? part.after });
        body.push(...page.entries);
        records += page.read;
        bytes += page.bytes;
      }
      await options.pace?.(bytes);
      return { header: { parts, epoch: options.epoch() }, body };
    },
  };
}
