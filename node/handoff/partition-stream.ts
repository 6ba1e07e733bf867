/**
 * Copying one partition from another node, page by page: the common loop of rebuilds and ownership handoff. Each page
 * is a `scan` after the last key copied; its entries (distinct keys) are merged as one batch; the caller is told of
 * every page so it can count progress and persist the cursor, which is what makes a copy resumable.
 */
import type { PeerClient } from "../peer/index.js";
import type { Ring } from "../ring/types.js";
import type { Store } from "../storage/index.js";
import { decodeRecord } from "../versioning/index.js";
import type { VersionedRecord } from "../versioning/types.js";
import { decodeEntries } from "./entries.js";

/**
 * What copying partitions from other replicas needs of the node, shared by rebuilds and ownership handoff: the
 * store, who this node is, the ring, who is up, a client per peer, and how to merge a record in.
 */
export interface ReplicaAccess {
  store: Store;
  self: string;
  /** Replicas per partition to consider (the largest bucket n). */
  targetN: number;
  ring: () => Ring | undefined;
  isUp: (id: string) => boolean;
  peer: (id: string) => PeerClient | undefined;
  /** Merges one page of records (distinct keys of one partition) into the local replica. */
  mergePage: (partition: number, entries: { bucket: string; key: Buffer; record: VersionedRecord }[]) => Promise<void>;
}

/** The last key copied: bucket, and key bytes as base64. */
export interface StreamCursor {
  b: string;
  k: string;
}

export interface PartitionStreamOptions {
  partition: number;
  cursor: StreamCursor | undefined;
  batchMax: number;
  mergePage: (entries: { bucket: string; key: Buffer; record: VersionedRecord }[]) => Promise<void>;
  /** Called after each page is merged, with the number of keys and bytes and the new cursor. */
  onPage: (keys: number, bytes: number, cursor: StreamCursor | undefined) => Promise<void> | void;
  /** Called with each page's size before it is merged (a rate limiter waits here). */
  beforeMerge?: (bytes: number) => Promise<void>;
  shouldStop: () => boolean;
}

/** Copies until the source says the partition is done (true) or `shouldStop` says to stop (false). */
export async function streamPartition(client: PeerClient, options: PartitionStreamOptions): Promise<boolean> {
  let cursor = options.cursor;
  while (!options.shouldStop()) {
    const header: Record<string, unknown> = { p: options.partition, limit: options.batchMax };
    if (cursor) header.after = cursor;
    const res = await client.request("scan", header, undefined, 60_000);
    await options.beforeMerge?.(res.body.length);
    const entries = decodeEntries(res.body);
    await options.mergePage(entries.map((entry) => ({ bucket: entry.bucket, key: entry.key, record: decodeRecord(entry.record) })));
    const last = entries[entries.length - 1];
    if (last) cursor = { b: last.bucket, k: last.key.toString("base64") };
    await options.onPage(entries.length, res.body.length, cursor);
    if (res.header.done) return true;
  }
  return false;
}
