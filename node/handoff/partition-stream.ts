/**
 * Copying one partition from another node, page by page: the common loop of rebuilds and ownership handoff. Each page
 * is a `scan` after the last key copied; its entries (distinct keys) are merged as one batch; the caller is told of
 * every page so it can count progress and persist the cursor, which is what makes a copy resumable.
 */
import type { ClusterView } from "../cluster/index.js";
import type { PeerClient } from "../peer/index.js";
import type { Store } from "../storage/index.js";
import type { VersionedRecord } from "../versioning/types.js";

/** One record of a streamed page, decoded, with the bytes the sender stored (which a new replica stores as they are). */
export interface StreamedEntry {
  bucket: string;
  key: Buffer;
  record: VersionedRecord;
  encoded?: Buffer;
}

/**
 * What copying partitions from other replicas needs of the node, shared by rebuilds and ownership handoff: the
 * store, who this node is, the ring, who is up, a client per peer, and how to merge a record in.
 */
export interface ReplicaAccess {
  store: Store;
  cluster: ClusterView;
  /** Replicas per partition to consider (the largest bucket n). */
  targetN: number;
  /** Merges one page of records (distinct keys of one partition) into the local replica. */
  mergePage: (partition: number, entries: StreamedEntry[]) => Promise<void>;
}

/** The last key copied: bucket, and key bytes as base64 (the form persisted with a transfer's progress). */
export interface StreamCursor {
  b: string;
  k: string;
}

export interface PartitionStreamOptions {
  partition: number;
  cursor: StreamCursor | undefined;
  batchMax: number;
  mergePage: (entries: StreamedEntry[]) => Promise<void>;
  /** Called after each page is merged, with the number of keys and bytes and the new cursor. */
  onPage: (keys: number, bytes: number, cursor: StreamCursor | undefined) => Promise<void> | void;
  /** Called with each page's size before it is merged (a rate limiter waits here). */
  beforeMerge?: (bytes: number) => Promise<void>;
  /**
   * The bytes a page should hold now (the pace's window at its current rate): pages are asked for in as many records
   * as fit, by the size of the records seen so far, between PAGE_RECORDS_MIN and `batchMax`. A page is decoded and
   * merged in one go on the event loop that serves clients, so while the pace is low the pages are small.
   */
  pageBytes?: () => number;
  /**
   * The size of the last page any of the node's copies received, shared by them and updated here: a copy's first page
   * is sized by it rather than by PAGE_RECORDS_MIN. A partition of a few hundred records then comes in one page
   * instead of two round trips, and a ring change is hundreds of such copies.
   */
  lastPage?: { records: number; bytes: number };
  shouldStop: () => boolean;
}

/** Records per page at the least, however low the pace: smaller pages would cost more in round trips than they save. */
export const PAGE_RECORDS_MIN = 64;

/**
 * How many records to ask for in the next page: as many as fit in `wantBytes` by the mean size of the records `seen`
 * so far, between PAGE_RECORDS_MIN and `batchMax`. A first page with no size to go by (the node's first copy) is
 * PAGE_RECORDS_MIN records: a whole batch of unknown size could be many windows' worth at a low pace.
 */
export function pageLimit(wantBytes: number | undefined, seen: { records: number; bytes: number }, batchMax: number): number {
  if (wantBytes === undefined) return batchMax;
  if (seen.records === 0 || seen.bytes === 0) return Math.min(PAGE_RECORDS_MIN, batchMax);
  const fit = Math.floor(wantBytes / (seen.bytes / seen.records));
  return Math.max(Math.min(PAGE_RECORDS_MIN, batchMax), Math.min(batchMax, fit));
}

/**
 * Copies until the source says the partition is done (true) or `shouldStop` says to stop (false). The next page is
 * asked for while the current one is merged, so the sender's read and the network overlap the receiver's write; at
 * most two pages of a transfer are in memory at once. The cursor moves only once a page is merged, so a copy that
 * stops resumes after the last page it stored.
 */
export async function streamPartition(client: PeerClient, options: PartitionStreamOptions): Promise<boolean> {
  const seen = { records: 0, bytes: 0 };
  const limit = () => pageLimit(options.pageBytes?.(), seen.records > 0 ? seen : (options.lastPage ?? seen), options.batchMax);
  const fetchAfter = (cursor: StreamCursor | undefined) => {
    const after = cursor ? { bucket: cursor.b, key: Buffer.from(cursor.k, "base64") } : undefined;
    const page = client.call("scan", { header: { partition: options.partition, limit: limit(), after } }, 60_000);
    // A page fetched ahead may be abandoned (the merge failed, or the copy stopped); its failure is then nobody's.
    page.catch(() => undefined);
    return page;
  };
  let cursor = options.cursor;
  let next = options.shouldStop() ? undefined : fetchAfter(cursor);
  while (next) {
    const res = await next;
    seen.records += res.body.length;
    seen.bytes += res.bodyBytes;
    if (options.lastPage && res.body.length > 0) Object.assign(options.lastPage, { records: res.body.length, bytes: res.bodyBytes });
    const last = res.header.last;
    const pageCursor = last ? { b: last.bucket, k: last.key.toString("base64") } : cursor;
    next = res.header.done || options.shouldStop() ? undefined : fetchAfter(pageCursor);
    await options.beforeMerge?.(res.bodyBytes);
    await options.mergePage(res.body);
    cursor = pageCursor;
    await options.onPage(res.body.length, res.bodyBytes, cursor);
    if (res.header.done) return true;
  }
  return false;
}
