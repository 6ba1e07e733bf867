/**
 * Reading one partition from several replicas at once and merging what they hold, key by key, in one pass: a k-way
 * merge of their scans, which come in key order. Each replica is read a page at a time with the next page already
 * requested, so memory stays at two pages per replica whatever the partition's size, and the slowest replica sets
 * the pace. Versions are merged as replica sync merges them (node/versioning `merge`): a sibling one replica holds
 * and no other has superseded survives, so the result has every write any replica has, and nothing one of them
 * deleted comes back from another that missed the delete. A replica that fails mid-way is dropped from the merge (what
 * it gave so far stays in, which is safe: merging only ever adds versions not yet superseded) and reported, so the
 * caller can decide whether enough replicas were read in full.
 */
import type { DecodedEntry } from "../node/protocol/index.js";
import { merge, reconcile } from "../node/versioning/index.js";
import type { Reconciliation, VersionedRecord } from "../node/versioning/types.js";

export interface ScanPage {
  entries: DecodedEntry[];
  /** The last key the page covered, where the next one starts (it may be past the last entry). */
  last?: { bucket: string; key: Buffer };
  done: boolean;
  /** False when the replica's copy may lack acknowledged writes (it is being rebuilt). */
  canVote: boolean;
  /** The ring epoch the replica held when it served the page. */
  epoch?: number;
}

export interface ReplicaScan {
  id: string;
  /** One page after `after` (from the start when undefined). */
  page(after: { bucket: string; key: Buffer } | undefined): Promise<ScanPage>;
}

/** How each replica's read went, known once the merge has finished. */
export interface ReplicaOutcome {
  id: string;
  /** Read to the end of the partition. */
  complete: boolean;
  /** Every page said the copy could vote. */
  canVote: boolean;
  /** Records it contributed (before merging). */
  records: number;
  /** The ring epochs its pages reported. */
  epochs: Set<number>;
  error?: Error;
}

export interface MergedRecord {
  bucket: string;
  key: Buffer;
  record: VersionedRecord;
}

/** Orders keys as the store does: by bucket name (ASCII), then by key bytes. */
export function compareKeys(a: { bucket: string; key: Buffer }, b: { bucket: string; key: Buffer }): number {
  if (a.bucket !== b.bucket) return a.bucket < b.bucket ? -1 : 1;
  return Buffer.compare(a.key, b.key);
}

class Cursor {
  private entries: DecodedEntry[] = [];
  private index = 0;
  private next: Promise<ScanPage> | undefined;
  private done = false;
  readonly outcome: ReplicaOutcome;

  constructor(private readonly scan: ReplicaScan) {
    this.outcome = { id: scan.id, complete: false, canVote: true, records: 0, epochs: new Set() };
    this.next = this.fetch(undefined);
  }

  /** The current entry, loading the next page when this one is used up; undefined at the end or after a failure. */
  async head(): Promise<DecodedEntry | undefined> {
    while (this.index >= this.entries.length) {
      if (this.outcome.error || !this.next) return undefined;
      let page: ScanPage;
      try {
        page = await this.next;
      } catch (err) {
        this.outcome.error = err as Error;
        this.next = undefined;
        return undefined;
      }
      this.entries = page.entries;
      this.index = 0;
      this.outcome.records += page.entries.length;
      if (!page.canVote) this.outcome.canVote = false;
      if (page.epoch !== undefined) this.outcome.epochs.add(page.epoch);
      if (!page.done && page.entries.length === 0 && !page.last) {
        this.outcome.error = new Error(`${this.scan.id} answered an empty page that neither ends the partition nor moves on`);
        this.next = undefined;
        return undefined;
      }
      if (page.done) {
        this.done = true;
        this.outcome.complete = true;
        this.next = undefined;
      } else {
        // The next page is asked for at once, so it is on its way while this one is merged.
        this.next = this.fetch(page.last ?? lastKey(page.entries));
      }
    }
    return this.entries[this.index];
  }

  advance(): void {
    this.index += 1;
  }

  /** Waits for a page still in flight, so nothing is left running when the merge ends early. */
  async settle(): Promise<void> {
    await this.next?.catch(() => undefined);
  }

  private fetch(after: { bucket: string; key: Buffer } | undefined): Promise<ScanPage> {
    if (this.done) return Promise.resolve({ entries: [], done: true, canVote: true });
    const page = this.scan.page(after);
    // A failure is picked up by `head`; this keeps it from counting as unhandled until then.
    page.catch(() => undefined);
    return page;
  }
}

/**
 * Merges the replicas' scans of one partition, yielding each key once with the merge of every version read, in key
 * order. `reconciliation` gives a bucket's mode (lww buckets keep their one winner); keys of buckets it does not know
 * are passed to `skipped` and left out. `outcomes` is filled in as replicas finish or fail.
 */
export async function* mergeReplicas(
  scans: ReplicaScan[],
  reconciliation: (bucket: string) => Reconciliation | undefined,
  outcomes: ReplicaOutcome[],
  skipped: (bucket: string) => void = () => undefined,
): AsyncGenerator<MergedRecord> {
  const cursors = scans.map((scan) => new Cursor(scan));
  for (const cursor of cursors) outcomes.push(cursor.outcome);
  try {
    for (;;) {
      const heads = await Promise.all(cursors.map((c) => c.head()));
      let smallest: DecodedEntry | undefined;
      for (const head of heads) if (head && (!smallest || compareKeys(head, smallest) < 0)) smallest = head;
      if (!smallest) return;
      let record: VersionedRecord | undefined;
      heads.forEach((head, i) => {
        if (!head || compareKeys(head, smallest) !== 0) return;
        record = merge(record, head.record);
        cursors[i]!.advance();
      });
      const mode = reconciliation(smallest.bucket);
      if (mode === undefined) {
        skipped(smallest.bucket);
        continue;
      }
      yield { bucket: smallest.bucket, key: smallest.key, record: reconcile(record!, mode) };
    }
  } finally {
    await Promise.all(cursors.map((c) => c.settle()));
  }
}

function lastKey(entries: DecodedEntry[]): { bucket: string; key: Buffer } | undefined {
  const last = entries[entries.length - 1];
  return last && { bucket: last.bucket, key: last.key };
}
