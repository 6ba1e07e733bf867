/**
 * Drops partitions this node no longer replicates once a ring change has been finalized: after a delay (so nodes
 * still routing by the previous ring find the data for a little longer), and only when no hint points into the
 * partition and no transfer to this node is pending for it. The actor is renewed before anything is dropped.
 */
import { PeriodicTask } from "../../lib/periodic-task.js";
import type { ClusterView } from "../cluster/index.js";
import { pendingTransfers, preferenceList } from "../ring/index.js";
import type { Ring } from "../ring/types.js";
import type { Store } from "../storage/index.js";
import type { HintStore } from "./hint-store.js";

export interface JanitorDeps {
  store: Store;
  hints: HintStore;
  cluster: ClusterView;
  targetN: number;
  delayMs: number;
  /** How often to look for partitions to drop. */
  intervalMs: number;
  onDropped: (partition: number) => void;
  log: (message: string) => void;
}

export class PartitionJanitor {
  private readonly loop: PeriodicTask;
  /** Partitions seen unowned, and since when. */
  private readonly unownedSince = new Map<number, number>();
  /**
   * Partitions a sweep found empty, with the store's count of their writes then: while that count has not moved, the
   * partition is still empty and the next sweep need not look (a seek of LevelDB for each of the partitions a node
   * does not keep, every sweep, was a measurable share of a node's time).
   */
  private readonly foundEmpty = new Map<number, number>();

  constructor(private readonly deps: JanitorDeps) {
    this.loop = new PeriodicTask({ intervalMs: deps.intervalMs, round: () => this.sweep(), onError: (err) => deps.log(`partition cleanup failed: ${err.message}`) });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Whether this node should keep partition p's data under the given ring. */
  keeps(ring: Ring, partition: number): boolean {
    if (preferenceList(ring, partition, this.deps.targetN).includes(this.deps.cluster.self)) return true;
    const next = nextRing(ring);
    if (next && preferenceList(next, partition, this.deps.targetN).includes(this.deps.cluster.self)) return true;
    if (pendingTransfers(ring, partition).some((t) => t.to === this.deps.cluster.self || t.from === this.deps.cluster.self)) return true;
    return this.deps.hints.hasPartition(partition);
  }

  async sweep(now = Date.now()): Promise<void> {
    const ring = this.deps.cluster.ring();
    if (!ring) return;
    const due: number[] = [];
    for (let p = 0; p < ring.partitions; p++) {
      if (this.keeps(ring, p)) {
        this.unownedSince.delete(p);
        continue;
      }
      // Read before the look, so a write that lands while it runs moves the count past what is remembered.
      const writes = this.deps.store.partitionWrites(p);
      if (this.foundEmpty.get(p) === writes) continue;
      if (!(await this.deps.store.holdsPartition(p))) {
        this.foundEmpty.set(p, writes);
        this.unownedSince.delete(p);
        continue;
      }
      this.foundEmpty.delete(p);
      const since = this.unownedSince.get(p) ?? now;
      this.unownedSince.set(p, since);
      if (now - since >= this.deps.delayMs) due.push(p);
    }
    if (due.length === 0) return;
    await this.deps.store.renewActor();
    for (const p of due) {
      // The ring may have changed while this sweep ran.
      const current = this.deps.cluster.ring();
      if (!current || this.keeps(current, p)) continue;
      await this.deps.store.dropPartition(p);
      this.unownedSince.delete(p);
      this.deps.onDropped(p);
      this.deps.log(`dropped partition ${p}: this node no longer replicates it`);
    }
  }
}

/**
 * The ring as it will be once its planned owners take over, made once per ring: a sweep asks for every partition, and
 * a ring made per question would also get preference lists of its own each time (see preferenceList).
 */
const nextRings = new WeakMap<Ring, Ring>();

function nextRing(ring: Ring): Ring | undefined {
  if (!ring.nextOwners) return undefined;
  let next = nextRings.get(ring);
  if (next === undefined) nextRings.set(ring, (next = { ...ring, owners: ring.nextOwners }));
  return next;
}
