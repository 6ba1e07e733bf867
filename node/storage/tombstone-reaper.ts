/**
 * Removes tombstones once every sibling of a record is a tombstone older than the grace period. The grace period is
 * what keeps a delete from being undone by a replica that missed it: until it passes, the tombstone travels with
 * read repair and anti-entropy like any version. Passes are bounded in size; the actor is renewed before anything is
 * dropped (see Store.renewActor).
 */
import { PeriodicTask } from "../../lib/periodic-task.js";
import { isReapable } from "../versioning/index.js";
import type { VersionedRecord } from "../versioning/types.js";
import type { Store } from "./store.js";

export interface ReaperOptions {
  graceMs: number;
  intervalMs: number;
  batchMax: number;
  onReaped: (count: number) => void;
  /** Called for each record removed, with its last version (hash trees forget it). */
  onRemoved?: (at: { partition: number; bucket: string; key: Buffer }, before: VersionedRecord) => void;
  log: (message: string) => void;
  now?: () => number;
}

export class TombstoneReaper {
  private readonly loop: PeriodicTask<number>;

  constructor(
    private readonly store: Store,
    private readonly options: ReaperOptions,
  ) {
    this.loop = new PeriodicTask({ intervalMs: options.intervalMs, round: () => this.pass(), onError: (err) => options.log(`tombstone reaping failed: ${err.message}`) });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass; returns how many tombstones were removed. Overlapping calls share the pass in progress. */
  runOnce(): Promise<number> {
    return this.loop.runOnce();
  }

  private async pass(): Promise<number> {
    const now = this.options.now ?? Date.now;
    const candidates = [];
    for await (const entry of this.store.scanAll()) {
      if (isReapable(entry.record, now(), this.options.graceMs)) candidates.push(entry);
      if (candidates.length >= this.options.batchMax) break;
    }
    if (candidates.length === 0) return 0;
    await this.store.renewActor();
    let reaped = 0;
    for (const entry of candidates) {
      await this.store.withRecordLock(entry.partition, entry.bucket, entry.key, async () => {
        // A write may have landed since the scan; only a record that is still all tombstones goes.
        const current = await this.store.get(entry.partition, entry.bucket, entry.key);
        if (!current || !isReapable(current, now(), this.options.graceMs)) return;
        await this.store.batch([{ type: "del", partition: entry.partition, bucket: entry.bucket, key: entry.key }]);
        this.options.onRemoved?.(entry, current);
        reaped += 1;
      });
    }
    if (reaped > 0) this.options.log(`reaped ${reaped} tombstones older than ${this.options.graceMs} ms`);
    this.options.onReaped(reaped);
    return reaped;
  }
}
